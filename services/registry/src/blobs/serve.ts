import { randomBytes } from "node:crypto";
import { close, createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { pipeline as chainStreams, Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Context } from "koa";
import type { Logger } from "../../../shared/logging.ts";
import type { BlobCache } from "../cache/blob-cache.ts";
import { RegistryError } from "../errors.ts";
import type { BlobRecord, BlobSource, Store } from "../store.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { parseRange, type ByteRange } from "./range.ts";
import { READ_CHUNK } from "../cache/fd.ts";
import { sendFile } from "./send-file.ts";
import { countTransfer, CountingStream, startTransfer } from "./transfer.ts";
import { BlobIntegrityError, ExactLength, VerifyingStream } from "./streams.ts";

/** Distribution answers blobs as octet streams whatever the layer type; so do we. */
const BLOB_CONTENT_TYPE = "application/octet-stream";

/**
 * A body to send: a stream, and whether its bytes were already digest-checked
 * (the cache checks on the way in); or a committed cache file (verified when
 * it was committed) as a descriptor, sent with reused buffers (sendFile).
 */
type OpenedBody = { body: Readable; checked: boolean } | { fd: number };

/**
 * Serves a blob of a composition from where the composition said it lives.
 * Upstream and URL blobs go through the blob cache: a GET, whole or ranged,
 * reads the committed file, or joins (or starts) the one shared fetch of the
 * whole blob into it. A range is never forwarded upstream: its bytes could
 * not be checked against the digest. The body is piped with backpressure
 * straight to the socket (nothing is buffered whole).
 */
export class BlobServer {
  constructor(
    private readonly store: Store,
    private readonly client: UpstreamClient,
    private readonly cache: BlobCache,
    private readonly logger: Logger,
  ) {}

  async serve(ctx: Context, name: string, digest: string, blob: BlobRecord): Promise<void> {
    const common = { "Docker-Content-Digest": digest, ETag: `"${digest}"`, "Accept-Ranges": "bytes" };
    // HEAD answers from the record alone and never opens an upstream body.
    if (ctx.method !== "HEAD") startTransfer(ctx, blob.source);
    const range = ctx.method === "HEAD" ? ({ kind: "none" } as const) : parseRange(ctx.get("range") || undefined, blob.size);
    if (range.kind === "unsatisfiable") {
      throw new RegistryError("RANGE_NOT_SATISFIABLE", "range not satisfiable", { size: blob.size }, 416, { ...common, "Content-Range": `bytes */${blob.size}` });
    }
    if (range.kind === "none" || ctx.method === "HEAD") {
      ctx.set({ ...common, "Content-Type": BLOB_CONTENT_TYPE, "Content-Length": String(blob.size) });
      ctx.status = 200;
      if (ctx.method === "HEAD") return;
      const opened = await this.open(ctx, digest, blob);
      if ("fd" in opened) return this.sendCommitted(ctx, name, digest, opened.fd, { start: 0, end: blob.size - 1 });
      // Bytes the cache verified on the way in are not hashed again for every reader.
      return this.send(ctx, name, digest, [opened.body, opened.checked ? new ExactLength(blob.size) : new VerifyingStream(digest, blob.size)]);
    }
    const [first, ...more] = range.ranges as [ByteRange, ...ByteRange[]];
    if (more.length === 0) {
      const opened = await this.open(ctx, digest, blob, first);
      ctx.set({ ...common, "Content-Type": BLOB_CONTENT_TYPE, "Content-Range": `bytes ${first.start}-${first.end}/${blob.size}`, "Content-Length": String(first.end - first.start + 1) });
      ctx.status = 206;
      if ("fd" in opened) return this.sendCommitted(ctx, name, digest, opened.fd, first);
      return this.send(ctx, name, digest, [opened.body, new ExactLength(first.end - first.start + 1)]);
    }
    // Several ranges: one multipart/byteranges body, each part fetched in turn.
    const boundary = randomBytes(12).toString("hex");
    const heads = range.ranges.map((r, i) => Buffer.from(`${i === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${BLOB_CONTENT_TYPE}\r\nContent-Range: bytes ${r.start}-${r.end}/${blob.size}\r\n\r\n`));
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const length = heads.reduce((n, h) => n + h.length, 0) + range.ranges.reduce((n, r) => n + r.end - r.start + 1, 0) + tail.length;
    const firstBody = asStream(await this.open(ctx, digest, blob, first), first);
    ctx.set({ ...common, "Content-Type": `multipart/byteranges; boundary=${boundary}`, "Content-Length": String(length) });
    ctx.status = 206;
    const parts = async function* (this: BlobServer) {
      for (const [i, r] of range.ranges.entries()) {
        yield heads[i] as Buffer;
        const part = i === 0 ? firstBody : asStream(await this.open(ctx, digest, blob, r), r);
        yield* chain(part, new ExactLength(r.end - r.start + 1));
      }
      yield tail;
    }.call(this);
    return this.send(ctx, name, digest, [Readable.from(parts)]);
  }

  /** Opens the blob (or one range of it); errors here still become OCI error answers. */
  private async open(ctx: Context, digest: string, blob: BlobRecord, range?: ByteRange): Promise<OpenedBody> {
    const source = blob.source;
    if (source.kind === "store") {
      if (!(await this.store.hasBlob(digest))) throw new RegistryError("BLOB_UNKNOWN", "blob missing from the store", { digest });
      return { body: this.store.openBlob(digest, range), checked: false };
    }
    if (source.kind === "file") {
      // Checked before the headers go out, so a vanished file is an error answer, not a cut connection.
      if (!(await access(source.path).then(() => true, () => false))) throw new RegistryError("BLOB_UNKNOWN", "static layer file missing", { digest });
      return { body: createReadStream(source.path, range), checked: false };
    }
    const cached = await this.cache.openCommitted(digest);
    if (cached !== undefined) {
      ctx.state["blob"].source = "cache";
      return { fd: cached };
    }
    // The shared fetch has its own abort: one client leaving must not cut the others.
    const shared = await this.cache.fetch(digest, blob.size, (signal) => this.openSource(source, digest, signal), range);
    if (shared) return { body: shared, checked: true };
    // No room in the cache: the whole blob streams through for this request alone, checked on the way.
    const abort = new AbortController();
    ctx.res.once("close", () => abort.abort());
    const body = await this.openSource(source, digest, abort.signal);
    return { body: range ? chain(body, new VerifyingStream(digest, blob.size, range)) : body, checked: range !== undefined };
  }

  private openSource(source: Extract<BlobSource, { kind: "upstream" | "url" }>, digest: string, signal: AbortSignal): Promise<Readable> {
    return source.kind === "upstream" ? this.client.openBlob(source, digest, signal) : this.client.openUrl(source.url, signal);
  }

  private async send(ctx: Context, name: string, digest: string, streams: [Readable, ...NodeJS.ReadWriteStream[]]): Promise<void> {
    // From here on the body belongs to us, not to Koa: a failure can only end the connection.
    ctx.respond = false;
    ctx.res.writeHead(ctx.status);
    try {
      await pipeline([...streams, new CountingStream(ctx.state["blob"]), ctx.res]);
    } catch (err) {
      this.failed(ctx, name, digest, err);
    }
  }

  /** A span of a committed cache file, the hot path of warm pulls: no streams, no allocation per chunk. Closes fd. */
  private async sendCommitted(ctx: Context, name: string, digest: string, fd: number, range: ByteRange): Promise<void> {
    ctx.respond = false;
    ctx.res.writeHead(ctx.status);
    const counter = countTransfer(ctx.state["blob"]);
    try {
      await sendFile(fd, range.start, range.end - range.start + 1, ctx.res, (bytes) => counter.sent(bytes));
      ctx.res.end();
    } catch (err) {
      this.failed(ctx, name, digest, err);
    } finally {
      counter.done();
      close(fd, () => undefined);
    }
  }

  private failed(ctx: Context, name: string, digest: string, err: unknown): void {
    // Wrong bytes from a source are worth an operator's attention; a client
    // that went away (or an upstream that broke off) is routine.
    if (err instanceof BlobIntegrityError) this.logger.warn({ name, digest, reason: err.message }, "blob failed verification; connection closed");
    else this.logger.debug({ name, digest, reason: (err as Error).message }, "blob transfer ended early");
    ctx.req.socket.destroy();
  }
}

/** A part of a multipart answer as a stream, whatever it was opened as. */
function asStream(opened: OpenedBody, range: ByteRange): Readable {
  return "fd" in opened ? createReadStream("", { fd: opened.fd, start: range.start, end: range.end, highWaterMark: READ_CHUNK, autoClose: true }) : opened.body;
}

/** source piped into transform; an error on either destroys both, and surfaces on transform. */
function chain(source: Readable, transform: Transform): Transform {
  return chainStreams(source, transform, () => undefined);
}
