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
  constructor(private readonly transfer: BlobTransfer) {
    super();
    blobStreamsInFlight.inc();
    this.once("close", () => blobStreamsInFlight.dec());
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.transfer.bytes += chunk.length;
    blobBytesServed.inc({ source: this.transfer.source }, chunk.length);
    done(null, chunk);
  }
}
