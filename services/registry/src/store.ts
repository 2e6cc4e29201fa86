import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile, unlink } from "node:fs/promises";
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
 * reader or a crash never sees half a file.
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

  /** Stores bytes under their digest (the caller computed it); existing blobs are left alone. */
  async putBlob(digest: string, bytes: Uint8Array): Promise<void> {
    if (await this.hasBlob(digest)) return;
    await this.atomicWrite(this.blobPath(digest), bytes);
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
    const previous = this.pending.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(async () => {
      const current = (await this.repository(name)) ?? { name, manifests: {}, blobs: {} };
      const known = Object.keys(manifests).every((d) => d in current.manifests) && Object.keys(blobs).every((d) => d in current.blobs);
      if (known) return;
      const merged: RepositoryRecord = { name, manifests: { ...current.manifests, ...manifests }, blobs: { ...current.blobs, ...blobs } };
      await this.atomicWrite(this.recordPath(name), JSON.stringify(merged));
      this.records.set(name, merged);
    });
    this.pending.set(name, next);
    try {
      await next;
    } finally {
      if (this.pending.get(name) === next) this.pending.delete(name);
    }
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
