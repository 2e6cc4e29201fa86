import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { LRUCache } from "lru-cache";

/**
 * Where a blob of a composed image is read from. Decided once, at
 * composition, and persisted with the repository, so a blob request never
 * has to resolve an image again (and works after a restart).
 */
export type BlobSource =
  | { kind: "upstream"; host: string; repository: string }
  | { kind: "url"; url: string }
  | { kind: "file"; path: string }
  /** Stored under registry.store: composed configs and direct content layers. */
  | { kind: "store" };

export interface BlobRecord {
  size: number;
  source: BlobSource;
}

/** What a repository may serve: the manifests composed for it and the blobs they reference. */
export interface RepositoryRecord {
  name: string;
  manifests: Record<string, { mediaType: string; size: number }>;
  blobs: Record<string, BlobRecord>;
}

/**
 * registry.store on disk:
 *   blobs/sha256/<hex>      composed manifests, configs, direct layers (content-addressed)
 *   repositories/<hex>.json  RepositoryRecord of one name (hex = sha256 of the name)
 * Every write goes to a temporary file first and is renamed into place, so a
 * reader or a crash never sees half a file. A blob's modification time is the
 * last time it was stored (or stored again): the sweep of a deleted
 * workspace's blobs leaves recently stored ones alone.
 */
export class Store {
  private readonly records = new LRUCache<string, RepositoryRecord>({ max: 10_000 });
  /** Writes of one repository's record are chained so concurrent compositions merge, not overwrite. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.root, "blobs", "sha256"), { recursive: true });
    await mkdir(join(this.root, "repositories"), { recursive: true });
    await mkdir(join(this.root, "tmp"), { recursive: true });
  }

  blobPath(digest: string): string {
    return join(this.root, "blobs", "sha256", digest.slice("sha256:".length));
  }

  async hasBlob(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      () => true,
      () => false,
    );
  }

  /** Stores bytes under their digest (the caller computed it); an existing blob is only marked as stored now. */
  async putBlob(digest: string, bytes: Uint8Array): Promise<void> {
    const now = new Date();
    const touched = await utimes(this.blobPath(digest), now, now).then(
      () => true,
      () => false,
    );
    if (!touched) await this.atomicWrite(this.blobPath(digest), bytes);
  }

  /** Removes a blob unless it was stored within graceMs (a composition may be about to reference it); true when removed. */
  async removeBlobIfIdle(digest: string, graceMs: number): Promise<boolean> {
    try {
      if (Date.now() - (await stat(this.blobPath(digest))).mtimeMs < graceMs) return false;
      await unlink(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async readBlob(digest: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.blobPath(digest));
    } catch {
      return undefined;
    }
  }

  openBlob(digest: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.blobPath(digest), range);
  }

  async repository(name: string): Promise<RepositoryRecord | undefined> {
    const cached = this.records.get(name);
    if (cached) return cached;
    try {
      const record = JSON.parse(await readFile(this.recordPath(name), "utf8")) as RepositoryRecord;
      this.records.set(name, record);
      return record;
    } catch {
      return undefined;
    }
  }

  /** Adds a composition's manifests and blobs to what the repository may serve. */
  async addToRepository(name: string, manifests: RepositoryRecord["manifests"], blobs: RepositoryRecord["blobs"]): Promise<void> {
    await this.serialised(name, async () => {
      const current = (await this.repository(name)) ?? { name, manifests: {}, blobs: {} };
      const known = Object.keys(manifests).every((d) => d in current.manifests) && Object.keys(blobs).every((d) => d in current.blobs);
      if (known) return;
      const merged: RepositoryRecord = { name, manifests: { ...current.manifests, ...manifests }, blobs: { ...current.blobs, ...blobs } };
      await this.atomicWrite(this.recordPath(name), JSON.stringify(merged));
      this.records.set(name, merged);
    });
  }

  /** Changes of one repository's record run one after another, so concurrent ones merge instead of overwriting. */
  private async serialised<T>(name: string, change: () => Promise<T>): Promise<T> {
    const previous = this.pending.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(change);
    this.pending.set(name, next);
    try {
      return await next;
    } finally {
      if (this.pending.get(name) === next) this.pending.delete(name);
    }
  }

  /**
   * Forgets what a repository may serve (its workspace was deleted) and
   * returns the digests of its stored blobs and manifests: they are garbage
   * unless another repository references them too.
   */
  async forgetRepository(name: string): Promise<string[]> {
    return this.serialised(name, async () => {
      const record = await this.repository(name);
      if (record === undefined) return [];
      await unlink(this.recordPath(name)).catch(() => undefined);
      this.records.delete(name);
      return storedDigests(record);
    });
  }

  /** Every digest some repository still references in the store: one pass over all records. */
  async referencedDigests(): Promise<Set<string>> {
    const referenced = new Set<string>();
    for (const file of await readdir(join(this.root, "repositories"))) {
      try {
        const record = JSON.parse(await readFile(join(this.root, "repositories", file), "utf8")) as RepositoryRecord;
        for (const digest of storedDigests(record)) referenced.add(digest);
      } catch {
        // Removed meanwhile: it references nothing any more.
      }
    }
    return referenced;
  }

  private recordPath(name: string): string {
    return join(this.root, "repositories", `${createHash("sha256").update(name).digest("hex")}.json`);
  }

  private async atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
    const tmp = join(this.root, "tmp", `${randomBytes(8).toString("hex")}`);
    try {
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

/** The digests of a record that live in the store: its manifests, and its blobs stored here (configs, direct layers). */
function storedDigests(record: RepositoryRecord): string[] {
  const blobs = Object.entries(record.blobs).filter(([, blob]) => blob.source.kind === "store");
  return [...Object.keys(record.manifests), ...blobs.map(([digest]) => digest)];
}
