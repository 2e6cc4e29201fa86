import type { Writable } from "node:stream";
import { fd, READ_CHUNK } from "../cache/fd.ts";
import { BlobIntegrityError } from "./streams.ts";

interface Slot {
  buffer: Buffer;
  /** The write of what the buffer holds; it may be refilled once this settled. */
  written: Promise<void> | undefined;
  /** A write of this buffer has not called back yet: the socket may still read it. */
  busy: boolean;
}

/**
 * Buffers of finished transfers, handed to the next ones: a warm registry
 * allocates none, so dead buffers never pile up waiting for a collection
 * (they did: +40 MiB of VmRSS during 8 clients' warm pulls). At most 32 (16 MiB) are kept.
 */
const spare: Buffer[] = [];
const SPARE_MAX = 32;

/**
 * Sends `length` bytes of the open descriptor `file` from `start` to out, through
 * two buffers reused for the whole transfer (and then by later ones): one is read into while the
 * socket takes the other, and a buffer is read into again only once its
 * write has called back (the socket no longer needs it). So a transfer
 * allocates nothing per chunk: no garbage for the collector (a fifth of the
 * registry's time with a buffer per chunk), and resident memory stays flat
 * however many clients pull at once. A file shorter than promised fails with
 * BlobIntegrityError; a response closed early fails too. The caller closes
 * the file and ends the response.
 */
export async function sendFile(file: number, start: number, length: number, out: Writable, onSent?: (bytes: number) => void): Promise<void> {
  const take = (): Slot => ({ buffer: spare.pop() ?? Buffer.allocUnsafe(READ_CHUNK), written: undefined, busy: false });
  const slots: [Slot, Slot] = [take(), take()];
  // A write pending on a socket that closes may never call back: closing ends the wait.
  let onClose = () => undefined as void;
  const closed = new Promise<never>((_, reject) => (onClose = () => reject(new Error("response closed before the blob was sent"))));
  closed.catch(() => undefined);
  out.once("close", onClose);
  try {
    let sent = 0;
    for (let n = 0; sent < length; n++) {
      const slot = slots[n % 2] as Slot;
      if (slot.written) await Promise.race([slot.written, closed]);
      if (out.destroyed) throw new Error("response closed before the blob was sent");
      const { bytesRead } = await fd.read(file, slot.buffer, 0, Math.min(READ_CHUNK, length - sent), start + sent);
      if (bytesRead === 0) throw new BlobIntegrityError(`file ended after ${sent} of ${length} bytes`);
      sent += bytesRead;
      slot.busy = true;
      slot.written = write(out, slot.buffer.subarray(0, bytesRead)).finally(() => (slot.busy = false));
      // Awaited later (or never, when the transfer fails first): not an unhandled rejection meanwhile.
      slot.written.catch(() => undefined);
      onSent?.(bytesRead);
    }
    await Promise.race([Promise.all(slots.map((s) => s.written)), closed]);
  } finally {
    out.off("close", onClose);
    // A buffer the socket may still read (a write cut short) is left to the collector.
    for (const slot of slots) if (!slot.busy && spare.length < SPARE_MAX) spare.push(slot.buffer);
  }
}

function write(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(chunk, (err) => (err ? reject(err) : resolve())));
}
