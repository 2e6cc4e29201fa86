import { Transform, type TransformCallback } from "node:stream";
import type { Context } from "koa";
import { blobBytesServed, blobStreamsInFlight } from "../../../shared/telemetry/metrics.ts";
import type { BlobTransfer } from "../access-log.ts";
import type { BlobSource } from "../store.ts";

/** The source label of a blob record: content URLs are "content", everything else by its kind. */
export function sourceLabel(source: BlobSource): string {
  return source.kind === "url" ? "content" : source.kind;
}

/** Records a GET body about to be sent, for the access log and the bytes metric. */
export function startTransfer(ctx: Context, source: BlobSource): BlobTransfer {
  const transfer: BlobTransfer = { source: sourceLabel(source), bytes: 0 };
  ctx.state["blob"] = transfer;
  return transfer;
}

/**
 * The last stage before the socket: counts body bytes (per chunk, so a
 * transfer cut halfway counts what went out) and the streams in flight.
 */
export class CountingStream extends Transform {
  private readonly counter: TransferCounter;

  constructor(transfer: BlobTransfer) {
    super();
    this.counter = countTransfer(transfer);
    this.once("close", () => this.counter.done());
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.counter.sent(chunk.length);
    done(null, chunk);
  }
}

export interface TransferCounter {
  sent(bytes: number): void;
  done(): void;
}

/** The same counting for a body written without a stream (sendFile): sent() per chunk, done() once at the end. */
export function countTransfer(transfer: BlobTransfer): TransferCounter {
  blobStreamsInFlight.inc();
  return {
    sent(bytes) {
      transfer.bytes += bytes;
      blobBytesServed.inc({ source: transfer.source }, bytes);
    },
    done: () => blobStreamsInFlight.dec(),
  };
}
