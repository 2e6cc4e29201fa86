import type { ImageSpec } from "../../../../gen/registryfacade/provider.ts";

/**
 * The one storage interface both backends implement. Revisions come from the
 * store: they increase with every write in the whole store and are never
 * reused, so an expected revision read before a delete can never match the
 * spec recreated after it.
 *
 * Errors: a missing id is NotFoundError, a failed expected-revision check
 * PreconditionError, an unreachable backend UnavailableError (all from
 * services/shared/grpc/errors.ts).
 */
export interface SpecStore {
  /** The spec stored for id; NotFoundError when there is none. */
  get(id: string): Promise<StoredRecord>;
  /**
   * Writes the spec of id. expectedRevision: undefined writes unconditionally,
   * 0n requires that id does not exist, n requires it to be at revision n.
   */
  put(id: string, spec: ImageSpec, expectedRevision?: bigint): Promise<StoredRecord>;
  /** Deletes id, returning the revision it had; same expectedRevision rules as put (0n is not useful). */
  delete(id: string, expectedRevision?: bigint): Promise<bigint>;
  /** Up to limit records with ids greater than after, in id order. */
  list(after: string, limit: number): Promise<StoredRecord[]>;
  /**
   * Every change from now on until signal aborts: first the current state
   * when includeInitial (as put events), then one synced event once the
   * watch is live, then the changes.
   */
  watch(options: { includeInitial: boolean; signal: AbortSignal }): AsyncIterable<StoreEvent>;
  /**
   * For backends that can go away (NATS): called with false on losing the
   * connection and true on regaining it, so health can report NOT_SERVING.
   */
  onAvailabilityChange?(listener: (available: boolean) => void): void;
  close(): Promise<void>;
}

export interface StoredRecord {
  id: string;
  spec: ImageSpec;
  revision: bigint;
  updateTime: Date;
}

export type StoreEvent = { kind: "put"; record: StoredRecord } | { kind: "delete"; id: string; revision: bigint } | { kind: "synced" };
