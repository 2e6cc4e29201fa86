import { connect, type NatsConnection } from "@nats-io/transport-node";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import { InvalidArgumentError, NotFoundError, PreconditionError, UnavailableError } from "../../../shared/grpc/errors.ts";
import type { Logger } from "../../../shared/logging.ts";
import { drainOrClose } from "../../../shared/nats-connection.ts";
import { assertWorkspaceId } from "../workspace-id.ts";
import { checkExpectedRevision } from "./revision.ts";
import type { SpecStore, StoredRecord, StoreEvent } from "./types.ts";

/** An unconditional delete retries this often when writes keep racing it. */
const DELETE_ATTEMPTS = 5;

/**
 * The distributed store: a JetStream key-value bucket shared by every
 * spec-provider replica. The revision of a spec is the KV revision (the
 * stream sequence of its last write), which is store-wide and never reused.
 * Conditional writes use JetStream's expected-last-subject-sequence, so two
 * replicas racing on one id cannot both win.
 *
 * Keys are workspace ids as they are: the id grammar (lowercase
 * alphanumerics separated by single '.', '_', '__' or '-') is a subset of
 * the key grammar with no empty token, and assertWorkspaceId guards it.
 * Values are the ImageSpec in protobuf binary, the most compact form, as a
 * NATS message has a size limit (max_payload, 1 MiB by default).
 */
export class NatsKvSpecStore implements SpecStore {
  /** False while the client is reconnecting: calls then fail at once instead of waiting out a timeout. */
  private connected = true;
  private readonly availabilityListeners: Array<(available: boolean) => void> = [];
  /**
   * Stops of the watches still running. A KV watch is an ordered consumer
   * with its own heartbeat timer that outlives its connection, so close()
   * must end each one or the process stays alive.
   */
  private readonly liveWatchStops = new Set<() => void>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly logger: Logger,
  ) {
    this.followConnection().catch((err: unknown) => logger.error({ err }, "cannot follow the NATS connection status"));
  }

  static async open(servers: string[], bucket: string, logger: Logger): Promise<NatsKvSpecStore> {
    let nc: NatsConnection;
    try {
      // Reconnect forever: a spec-provider outlives a NATS restart.
      nc = await connect({ servers, name: "spec-provider", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (err) {
      throw new UnavailableError(`cannot connect to NATS at ${servers.join(", ")}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const kv = await new Kvm(nc).create(bucket, { history: 1 });
      logger.info({ servers, bucket }, "nats-kv spec store opened");
      return new NatsKvSpecStore(nc, kv, logger);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async get(id: string): Promise<StoredRecord> {
    const record = await this.read(id);
    if (record === undefined) throw new NotFoundError(`no spec for workspace ${id}`);
    return record;
  }

  async put(id: string, spec: ImageSpec, expectedRevision?: bigint): Promise<StoredRecord> {
    const value = ImageSpec.encode(spec).finish();
    const maxPayload = this.nc.info?.max_payload;
    if (maxPayload !== undefined && value.length > maxPayload - 1024) {
      throw new InvalidArgumentError([{ field: "spec", description: `encoded spec is ${value.length} bytes; the NATS store takes at most ${maxPayload - 1024}` }]);
    }
    const key = keyFor(id);
    let revision: number;
    if (expectedRevision === undefined) {
      revision = await this.call(() => this.kv.put(key, value));
    } else if (expectedRevision === 0n) {
      revision = await this.call(() => this.kv.create(key, value), () => `workspace ${id} already exists; expected it not to`);
    } else {
      // JetStream would accept an update whose expected revision is that of
      // a delete marker; a spec that does not exist must fail the check.
      checkExpectedRevision(id, (await this.read(id))?.revision, expectedRevision);
      revision = await this.call(
        () => this.kv.put(key, value, { previousSeq: Number(expectedRevision) }),
        () => `workspace ${id} changed; expected revision ${expectedRevision}`,
      );
    }
    return { id, spec, revision: BigInt(revision), updateTime: new Date() };
  }

  async delete(id: string, expectedRevision?: bigint): Promise<bigint> {
    const key = keyFor(id);
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(id);
      if (current === undefined) throw new NotFoundError(`no spec for workspace ${id}`);
      checkExpectedRevision(id, current.revision, expectedRevision);
      try {
        // Conditional even when the caller set no condition, so the revision
        // reported is the one really deleted.
        await this.call(() => this.kv.delete(key, { previousSeq: Number(current.revision) }), () => `workspace ${id} changed while being deleted`);
        return current.revision;
      } catch (err) {
        if (!(err instanceof PreconditionError) || expectedRevision !== undefined || attempt >= DELETE_ATTEMPTS) throw err;
      }
    }
  }

  async list(after: string, limit: number): Promise<StoredRecord[]> {
    const keys = await this.call(async () => {
      const all: string[] = [];
      for await (const key of await this.kv.keys()) all.push(key);
      return all;
    });
    const records: StoredRecord[] = [];
    for (const id of keys.filter((key) => key > after).sort()) {
      if (records.length >= limit) break;
      const record = await this.read(id);
      if (record !== undefined) records.push(record);
    }
    return records;
  }

  async *watch(options: { includeInitial: boolean; signal: AbortSignal }): AsyncIterable<StoreEvent> {
    // Subscribe to new changes first, then read the current state: a change
    // made in between is in both, and the revisions tell which is newer.
    // (The KV watch's own initial values give no sign of where they end.)
    const entries = await this.call(() => this.kv.watch({ include: KvWatchInclude.UpdatesOnly }));
    const stop = () => entries.stop();
    this.liveWatchStops.add(stop);
    options.signal.addEventListener("abort", stop, { once: true });
    // Aborted while the watch was being set up: the listener will never fire.
    if (options.signal.aborted) stop();
    try {
      const seen = new Map<string, bigint>();
      if (options.includeInitial) {
        for (const record of await this.list("", Number.MAX_SAFE_INTEGER)) {
          seen.set(record.id, record.revision);
          yield { kind: "put", record };
        }
      }
      yield { kind: "synced" };
      for await (const entry of entries) {
        if (BigInt(entry.revision) <= (seen.get(entry.key) ?? 0n)) continue;
        if (entry.operation === "PUT") yield { kind: "put", record: recordOf(entry) };
        else yield { kind: "delete", id: entry.key, revision: BigInt(entry.revision) };
      }
    } finally {
      options.signal.removeEventListener("abort", stop);
      this.liveWatchStops.delete(stop);
      entries.stop();
    }
    if (!options.signal.aborted) throw new UnavailableError("the NATS watch ended (connection closed)");
  }

  onAvailabilityChange(listener: (available: boolean) => void): void {
    this.availabilityListeners.push(listener);
  }

  async close(): Promise<void> {
    for (const stop of this.liveWatchStops) stop();
    this.liveWatchStops.clear();
    await drainOrClose(this.nc);
  }

  private async read(id: string): Promise<StoredRecord | undefined> {
    const entry = await this.call(() => this.kv.get(keyFor(id)));
    return entry === null || entry.operation !== "PUT" ? undefined : recordOf(entry);
  }

  /**
   * Runs one NATS operation, turning its failures into the store's errors: a
   * wrong last sequence is a failed precondition, anything else means NATS
   * is not there for us right now.
   */
  private async call<T>(operation: () => Promise<T>, conflict?: () => string): Promise<T> {
    if (!this.connected || this.nc.isClosed()) throw new UnavailableError("spec store unavailable: not connected to NATS");
    try {
      return await operation();
    } catch (err) {
      if (conflict && err instanceof JetStreamApiError && isWrongLastSequence(err)) throw new PreconditionError(conflict(), { cause: err });
      throw new UnavailableError(`spec store unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  private setConnected(connected: boolean): void {
    this.connected = connected;
    for (const listener of this.availabilityListeners) listener(connected);
  }

  private async followConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "disconnect") {
        this.setConnected(false);
        this.logger.warn({ server: status.server }, "disconnected from NATS");
      } else if (status.type === "reconnect") {
        this.setConnected(true);
        this.logger.info({ server: status.server }, "reconnected to NATS");
      }
    }
  }
}

function keyFor(id: string): string {
  assertWorkspaceId(id);
  return id;
}

function recordOf(entry: KvEntry): StoredRecord {
  return { id: entry.key, spec: ImageSpec.decode(entry.value), revision: BigInt(entry.revision), updateTime: entry.created };
}

function isWrongLastSequence(err: JetStreamApiError): boolean {
  return err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown;
}
