import { on, EventEmitter } from "node:events";
import { mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import { NotFoundError, UnavailableError } from "../../../shared/grpc/errors.ts";
import type { Logger } from "../../../shared/logging.ts";
import { assertWorkspaceId } from "../workspace-id.ts";
import { recordFromJson, recordToJson } from "./record-json.ts";
import { checkExpectedRevision } from "./revision.ts";
import type { SpecStore, StoredRecord, StoreEvent } from "./types.ts";

/** Holds the last revision handed out, so revisions survive restarts and deletes and are never reused. */
const REVISION_FILE = "REVISION";
const SPEC_SUFFIX = ".json";
/** Temporary files start with a dot, which no workspace id does, so they never look like a spec. */
const TEMP_PREFIX = ".tmp-";

/**
 * The embedded store: one JSON file per workspace in one directory, owned by
 * one spec-provider process (replicas share state through the nats-kv store
 * instead). Every write goes to a temporary file that is fsynced and renamed
 * over the old one, then the directory is fsynced: a crash leaves either the
 * old or the new file, never a torn one, and an acknowledged write is on disk.
 * Writes are serialised in-process, which makes the expected-revision check
 * and the revision counter race-free and lets watch() join the change stream
 * at an exact point.
 */
export class FileSpecStore implements SpecStore {
  private readonly changes = new EventEmitter();
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private lastRevision: bigint,
  ) {
    // One listener per open watch stream; there is no leak to warn about.
    this.changes.setMaxListeners(0);
  }

  static async open(dir: string, logger: Logger): Promise<FileSpecStore> {
    await mkdir(dir, { recursive: true });
    // Leftovers of writes a crash interrupted; they were never acknowledged.
    for (const name of await readdir(dir)) {
      if (name.startsWith(TEMP_PREFIX)) await rm(join(dir, name), { force: true });
    }
    let lastRevision = 0n;
    try {
      lastRevision = BigInt((await readFile(join(dir, REVISION_FILE), "utf8")).trim());
    } catch (err) {
      if (!isNoEntry(err)) throw err;
    }
    const store = new FileSpecStore(dir, lastRevision);
    // Without REVISION (a new directory, or specs copied in by hand) the
    // counter starts above every stored revision, so revisions still only grow.
    if (lastRevision === 0n) {
      for (const record of await store.list("", Number.MAX_SAFE_INTEGER)) {
        if (record.revision > store.lastRevision) store.lastRevision = record.revision;
      }
    }
    logger.info({ dir, lastRevision: store.lastRevision.toString() }, "file spec store opened");
    return store;
  }

  async get(id: string): Promise<StoredRecord> {
    const record = await this.read(id);
    if (record === undefined) throw new NotFoundError(`no spec for workspace ${id}`);
    return record;
  }

  put(id: string, spec: ImageSpec, expectedRevision?: bigint): Promise<StoredRecord> {
    return this.serialised(async () => {
      checkExpectedRevision(id, (await this.read(id))?.revision, expectedRevision);
      const record: StoredRecord = { id, spec, revision: await this.nextRevision(), updateTime: new Date() };
      await this.writeAtomically(`${id}${SPEC_SUFFIX}`, recordToJson(record));
      this.changes.emit("change", { kind: "put", record } satisfies StoreEvent);
      return record;
    });
  }

  delete(id: string, expectedRevision?: bigint): Promise<bigint> {
    return this.serialised(async () => {
      const current = await this.read(id);
      if (current === undefined) throw new NotFoundError(`no spec for workspace ${id}`);
      checkExpectedRevision(id, current.revision, expectedRevision);
      const revision = await this.nextRevision();
      await io(async () => {
        await unlink(this.specPath(id));
        await this.syncDir();
      });
      this.changes.emit("change", { kind: "delete", id, revision } satisfies StoreEvent);
      return current.revision;
    });
  }

  async list(after: string, limit: number): Promise<StoredRecord[]> {
    const ids = (await this.ids()).filter((id) => id > after);
    const records: StoredRecord[] = [];
    for (const id of ids) {
      if (records.length >= limit) break;
      // Deleted since readdir: simply not part of this page.
      const record = await this.read(id);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  async *watch(options: { includeInitial: boolean; signal: AbortSignal }): AsyncIterable<StoreEvent> {
    // Subscribing and reading the current state inside the write queue means
    // no write falls between the two: every change is seen exactly once.
    const { live, initial } = await this.serialised(async () => {
      const live = on(this.changes, "change", { signal: options.signal });
      const initial = options.includeInitial ? await this.list("", Number.MAX_SAFE_INTEGER) : [];
      return { live, initial };
    });
    try {
      for (const record of initial) yield { kind: "put", record };
      yield { kind: "synced" };
      for await (const [event] of live) yield event as StoreEvent;
    } catch (err) {
      if (!options.signal.aborted) throw err;
    } finally {
      // Unsubscribes even when the consumer stops early.
      await live.return?.();
    }
  }

  async close(): Promise<void> {
    await this.queue;
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async nextRevision(): Promise<bigint> {
    const revision = this.lastRevision + 1n;
    // Persisted before the spec that carries it, so a crash can skip a
    // revision but never hand one out twice.
    await this.writeAtomically(REVISION_FILE, `${revision}\n`);
    this.lastRevision = revision;
    return revision;
  }

  private async read(id: string): Promise<StoredRecord | undefined> {
    const path = this.specPath(id);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if (isNoEntry(err)) return undefined;
      throw ioError(err);
    }
    return recordFromJson(text, path);
  }

  private async ids(): Promise<string[]> {
    const names = await io(() => readdir(this.dir));
    return names
      .filter((name) => name.endsWith(SPEC_SUFFIX) && !name.startsWith("."))
      .map((name) => name.slice(0, -SPEC_SUFFIX.length))
      .sort();
  }

  private specPath(id: string): string {
    assertWorkspaceId(id);
    return join(this.dir, `${id}${SPEC_SUFFIX}`);
  }

  private writeAtomically(name: string, text: string): Promise<void> {
    return io(async () => {
      const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(6).toString("hex")}-${name}`);
      const file = await open(temp, "wx");
      try {
        await file.writeFile(text);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, join(this.dir, name));
      await this.syncDir();
    });
  }

  /** Makes a rename or unlink durable: the directory entry is data too. */
  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function isNoEntry(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

/** A failing disk (full, read-only, gone) is the file store's "unreachable": retrying later may work. */
function ioError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === "string" ? new UnavailableError(`spec store I/O error: ${code}`, { cause: err }) : err;
}

async function io<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw ioError(err);
  }
}
