import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import { DigestVerifier } from "../../../shared/digest.ts";
import { BlobIntegrityError } from "../blobs/streams.ts";
import { fd, READ_CHUNK } from "./fd.ts";

/** Opens the whole blob at its source; the signal aborts the transfer. */
export type BlobOpener = (signal: AbortSignal) => Promise<Readable>;

/**
 * One upstream fetch of a blob into a temporary file, shared by every request
 * for that blob while it runs. The upstream body is hashed and written to the
 * file as fast as the disk takes it; each request reads the file at its own
 * pace and, when it has caught up, waits for more (a late joiner first gets
 * what is on disk, then follows). A reader of a range reads just that span.
 * Readers never get the last byte of what they asked for before the digest
 * has verified, so nobody ever holds a complete wrong blob or range. When the
 * last reader goes away before the end, the fetch is aborted.
 */
export class Fill extends EventEmitter {
  private written = 0;
  private verified = false;
  private failure: Error | undefined;
  private readers = 0;
  private finished = false;
  /** Out of the cache's map: no reader can join any more. */
  private retired = false;
  private closed = false;
  private readonly abort = new AbortController();
  /** Resolves once the upstream answered (rejects with its error): a reader is handed out only then. */
  readonly opened: Promise<void>;
  /** Resolves true once the whole blob is in the file and verified, false on any failure. */
  readonly done: Promise<boolean>;

  constructor(
    readonly digest: string,
    readonly size: number,
    /** The temporary file, opened for reading and writing (a plain descriptor: FileHandle streams are much slower). */
    private readonly file: number,
    open: BlobOpener,
    /** Called (once) when the last reader left before the whole blob arrived; the fetch is aborted. */
    private readonly onAbandoned: () => void,
  ) {
    super();
    this.setMaxListeners(0);
    let opened!: (error?: unknown) => void;
    this.opened = new Promise<void>((resolve, reject) => (opened = (error) => (error === undefined ? resolve() : reject(error))));
    // A failed open is reported through opened; done only says whether the blob made it.
    this.opened.catch(() => undefined);
    this.done = this.run(open, opened);
  }

  /** A reader of the blob, or of the inclusive byte range given; it follows the file as it grows. */
  reader(range: { start: number; end: number } = { start: 0, end: this.size - 1 }): Readable {
    this.readers++;
    let position = range.start;
    /** Where this reader stops (exclusive); its last byte waits for the digest. */
    const stop = range.end + 1;
    let pumping = false;
    /** A read of the descriptor is in flight: detaching now could let the file be closed under it. */
    let reading = false;
    let attached = true;
    const detach = () => {
      if (!attached) return;
      attached = false;
      this.readers--;
      // Once verified the blob is complete: it is committed even if nobody reads any more.
      if (this.readers === 0 && !this.verified && !this.finished) {
        this.abort.abort(new Error("every reader went away"));
        this.onAbandoned();
      }
      this.closeIfIdle();
    };
    const pump = async (): Promise<void> => {
      if (pumping) return;
      pumping = true;
      try {
        while (!stream.destroyed) {
          if (this.failure) return void stream.destroy(this.failure);
          const available = this.verified ? stop : Math.min(this.written, stop - 1);
          if (position < available) {
            const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, available - position));
            reading = true;
            let bytesRead: number;
            try {
              ({ bytesRead } = await fd.read(this.file, buffer, 0, buffer.length, position));
            } finally {
              reading = false;
            }
            if (stream.destroyed) return void detach();
            // Written bytes that read back as none: the file was cut short under us; never spin on it.
            if (bytesRead === 0) return void stream.destroy(new Error(`cache file of ${this.digest} is shorter than what was written to it`));
            position += bytesRead;
            if (!stream.push(buffer.subarray(0, bytesRead))) return;
          } else if (position === stop) {
            stream.push(null);
            return;
          } else {
            await new Promise((resolve) => this.once("progress", resolve));
          }
        }
      } catch (err) {
        stream.destroy(err as Error);
        // Destroyed while the read was in flight: destroy() left detaching to us.
        detach();
      } finally {
        pumping = false;
      }
    };
    const stream = new Readable({
      highWaterMark: READ_CHUNK,
      read: () => void pump(),
      destroy: (err, callback) => {
        // With a read in flight the pump detaches once it returns.
        if (!reading) detach();
        callback(err);
      },
    });
    stream.once("end", detach);
    return stream;
  }

  private async run(open: BlobOpener, opened: (error?: unknown) => void): Promise<boolean> {
    try {
      const body = await open(this.abort.signal).catch((err: unknown) => {
        opened(err);
        throw err;
      });
      opened();
      const verifier = new DigestVerifier(this.digest);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (this.written + chunk.length > this.size) throw new BlobIntegrityError(`blob ${this.digest} longer than ${this.size} bytes`);
        verifier.update(chunk);
        for (let done = 0; done < chunk.length; ) done += (await fd.write(this.file, chunk, done, chunk.length - done, this.written + done)).bytesWritten;
        this.written += chunk.length;
        this.emit("progress");
      }
      if (this.written !== this.size) throw new BlobIntegrityError(`blob ${this.digest}: ${this.written} bytes, expected ${this.size}`);
      const { actual, matches } = verifier.finish();
      if (!matches) throw new BlobIntegrityError(`blob ${this.digest} arrived with digest ${actual}`);
      // Verified: readers may have the last bytes now. Durable before it is
      // committed under its digest, so a crash never leaves a short file there.
      this.verified = true;
      this.emit("progress");
      await fd.datasync(this.file);
      return true;
    } catch (err) {
      // Readers already have good bytes when only the sync failed: they finish; the blob is just not committed.
      if (this.verified) return false;
      this.failure = this.abort.signal.aborted ? new Error("blob fetch abandoned") : (err as Error);
      this.emit("progress");
      return false;
    } finally {
      this.finished = true;
      this.closeIfIdle();
    }
  }

  /** The cache took the fetch out of its map (committed, failed or abandoned): nobody joins from now on. */
  retire(): void {
    this.retired = true;
    this.closeIfIdle();
  }

  /**
   * Closes the file once nothing can use the descriptor again: the fetch no
   * longer writes, no reader reads and none can join. Closing earlier could
   * let a read or write hit another file that reused the descriptor number.
   */
  private closeIfIdle(): void {
    if (this.closed || !this.retired || !this.finished || this.readers > 0) return;
    this.closed = true;
    void fd.close(this.file).catch(() => undefined);
  }

  /** Why the fetch failed, once it has. */
  get error(): Error | undefined {
    return this.failure;
  }
}
