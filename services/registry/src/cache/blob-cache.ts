import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat, statfs, unlink, utimes } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { LRUCache } from "lru-cache";
import type { Logger } from "../../../shared/logging.ts";
import { fd } from "./fd.ts";
import { Fill, type BlobOpener } from "./fill.ts";
import type { CacheStats } from "./stats.ts";

const HEX_NAME = /^[a-f0-9]{64}$/;

/**
 * The content-addressed blob cache under registry.store/cache:
 *   sha256/<hex>   committed blobs, each verified against its digest before the rename
 *   tmp/<hex>.<r>  fetches in progress; whatever is here at start-up is a leftover and removed
 * Committed blobs are evicted least recently used first so that committed plus
 * in-progress bytes stay under maxBytes. A cache that cannot be written (full,
 * read-only, broken) makes fetch() answer undefined: the caller streams
 * without caching, the pull does not fail.
 */
export class BlobCache {
  private readonly committed: LRUCache<string, number>;
  private readonly fills = new Map<string, Fill>();
  /** Bytes promised to fetches in progress (their final size), on top of the committed ones. */
  private reserved = 0;
  /** Evicted files still being removed: a new fetch waits for them, so the directory never holds both. */
  private readonly unlinking = new Set<Promise<void>>();

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly stats: CacheStats,
    private readonly logger: Logger,
  ) {
    this.committed = new LRUCache<string, number>({
      maxSize: maxBytes,
      sizeCalculation: (size) => Math.max(1, size),
      dispose: (_size, digest, reason) => {
        if (reason !== "evict") return;
        this.stats.blobEvictions++;
        // A reader that has the file open keeps reading it; the name goes now.
        const removed: Promise<void> = unlink(this.path(digest))
          .catch(() => undefined)
          .finally(() => this.unlinking.delete(removed));
        this.unlinking.add(removed);
      },
    });
    stats.blobCacheBytes = () => this.committed.calculatedSize;
  }

  /** Removes partial files of an earlier run and indexes the committed ones, oldest use first. */
  async init(): Promise<void> {
    const tmp = join(this.root, "tmp");
    try {
      const leftovers = await readdir(tmp).catch(() => []);
      this.stats.blobPartialsRemoved += leftovers.length;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      await mkdir(join(this.root, "sha256"), { recursive: true });
      if (leftovers.length > 0) this.logger.info({ removed: leftovers.length }, "removed partial blob files of an earlier run");
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message, dir: this.root }, "blob cache directory unusable; serving without caching");
      return;
    }
    const found: Array<{ hex: string; size: number; used: number }> = [];
    for (const name of await readdir(join(this.root, "sha256"))) {
      const file = join(this.root, "sha256", name);
      if (!HEX_NAME.test(name)) {
        await rm(file, { recursive: true, force: true });
        continue;
      }
      const info = await stat(file);
      found.push({ hex: name, size: info.size, used: info.mtimeMs });
    }
    for (const f of found.sort((a, b) => a.used - b.used)) this.committed.set(`sha256:${f.hex}`, f.size);
    this.logger.info({ blobs: this.committed.size, bytes: this.committed.calculatedSize, maxBytes: this.maxBytes }, "blob cache ready");
  }

  /** A committed blob opened for reading, as a file descriptor the caller closes; undefined when it is not cached. */
  async openCommitted(digest: string): Promise<number | undefined> {
    if (this.committed.get(digest) === undefined) return undefined;
    try {
      // Opened now: an eviction from here on unlinks the name, not what this reader reads.
      const file = await fd.open(this.path(digest), "r");
      // The modification time is the use time a restart orders by.
      const now = new Date();
      void utimes(this.path(digest), now, now).catch(() => undefined);
      this.stats.blobHits++;
      return file;
    } catch {
      this.committed.delete(digest);
      return undefined;
    }
  }

  /**
   * The whole blob, or the range asked for, out of one fetch of the whole
   * blob from its source however many requests ask at the same time (a range
   * cannot be verified alone, so it is never fetched alone). Rejects with the
   * source's error when it cannot be opened; undefined when the cache cannot
   * take it (then stream it directly).
   */
  async fetch(digest: string, size: number, openSource: BlobOpener, range?: { start: number; end: number }): Promise<Readable | undefined> {
    // A fetch that already failed is not joined (until settled it is still in the map): start afresh.
    let fill = this.running(digest);
    if (fill) {
      this.stats.blobJoins++;
    } else {
      fill = await this.start(digest, size, openSource);
      if (!fill) return undefined;
      this.stats.blobMisses++;
    }
    // Taken before the first await so the fetch cannot look abandoned meanwhile.
    const reader = fill.reader(range);
    try {
      await fill.opened;
    } catch (err) {
      reader.destroy();
      throw err;
    }
    return reader;
  }

  private async start(digest: string, size: number, openSource: BlobOpener): Promise<Fill | undefined> {
    if (size > this.maxBytes || !this.reserve(size)) {
      this.stats.blobCacheDegraded++;
      this.logger.debug({ digest, size }, "no room in the blob cache; streaming without caching");
      return undefined;
    }
    const tmp = join(this.root, "tmp", `${digest.slice("sha256:".length)}.${randomBytes(4).toString("hex")}`);
    let file;
    try {
      await Promise.all([...this.unlinking]);
      // Room for this blob and for what the fetches already running will still write (reserved includes this one).
      const free = await statfs(join(this.root, "tmp"));
      if (free.bavail * free.bsize < this.reserved) throw new Error(`only ${free.bavail * free.bsize} bytes free`);
      file = await fd.open(tmp, "wx+");
    } catch (err) {
      this.reserved -= size;
      this.stats.blobCacheDegraded++;
      this.logger.warn({ digest, reason: (err as Error).message }, "blob cache not writable; streaming without caching");
      return undefined;
    }
    // Another request may have started the same fetch while this one waited for the disk.
    const raced = this.running(digest);
    if (raced) {
      this.reserved -= size;
      await fd.close(file);
      await unlink(tmp).catch(() => undefined);
      return raced;
    }
    const fill = new Fill(digest, size, file, openSource, () => {
      this.stats.blobFetchesAbandoned++;
      // Gone from the map at once, so a new request starts afresh instead of joining a dying fetch.
      if (this.fills.get(digest) === fill) this.fills.delete(digest);
      fill.retire();
    });
    this.fills.set(digest, fill);
    void fill.done.then((ok) => this.settle(fill, tmp, ok));
    return fill;
  }

  /** Commits a verified file under its digest, or removes what a failed fetch left. */
  private async settle(fill: Fill, tmp: string, ok: boolean): Promise<void> {
    try {
      if (!ok) {
        if (fill.error?.name === "BlobIntegrityError") {
          this.stats.blobIntegrityFailures++;
          this.logger.warn({ digest: fill.digest, reason: fill.error.message }, "blob failed verification; not cached");
        }
        await unlink(tmp).catch(() => undefined);
        return;
      }
      try {
        await rename(tmp, this.path(fill.digest));
        this.committed.set(fill.digest, fill.size);
        this.stats.blobCommits++;
      } catch (err) {
        this.stats.blobCacheDegraded++;
        this.logger.warn({ digest: fill.digest, reason: (err as Error).message }, "could not commit a blob to the cache");
        await unlink(tmp).catch(() => undefined);
      }
    } finally {
      // Only now: until committed or removed, the file's bytes are on disk and must stay counted.
      this.reserved -= fill.size;
      // After the commit: a request arriving now finds the committed file.
      if (this.fills.get(fill.digest) === fill) this.fills.delete(fill.digest);
      fill.retire();
    }
  }

  private running(digest: string): Fill | undefined {
    const fill = this.fills.get(digest);
    return fill?.error === undefined ? fill : undefined;
  }

  /** Evicts least recently used blobs until size more bytes fit; false when fetches in progress already hold the room. */
  private reserve(size: number): boolean {
    while (this.committed.calculatedSize + this.reserved + size > this.maxBytes && this.committed.size > 0) {
      const evicted = this.committed.pop();
      if (evicted === undefined) break;
    }
    if (this.committed.calculatedSize + this.reserved + size > this.maxBytes) return false;
    this.reserved += size;
    return true;
  }

  private path(digest: string): string {
    return join(this.root, "sha256", digest.slice("sha256:".length));
  }
}
