import type { Logger } from "../../shared/logging.ts";
import { storeBlobsSwept } from "../../shared/telemetry/metrics.ts";
import type { Store } from "./store.ts";

export interface SweepOptions {
  /** How often candidates are looked at (only when there are some). */
  intervalMs: number;
  /** A blob stored again within this time is kept: a composition may be about to reference it. */
  graceMs: number;
}

/**
 * Frees the store of deleted workspaces. When a workspace is deleted its
 * repository record goes at once (a pull of it by digest is then unknown, as
 * by tag), and its stored manifests, configs and direct layers become
 * candidates; a sweep removes those no other repository references. Only
 * candidates are ever removed, so the upstream documents kept beside them
 * and anything of a workspace that still exists are never touched.
 * Candidates live in memory: a restart forgets them, which leaks a little
 * disk but never removes anything in use.
 */
export class StoreSweeper {
  private readonly candidates = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private sweeping: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: SweepOptions,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.sweep(), options.intervalMs);
    this.timer.unref();
  }

  /** The repository's workspace is gone: forget the record now, its blobs at the next sweep. */
  async forget(name: string): Promise<void> {
    const digests = await this.store.forgetRepository(name);
    for (const digest of digests) this.candidates.add(digest);
    if (digests.length > 0) this.logger.debug({ name, candidates: digests.length }, "repository forgotten; its blobs go at the next sweep");
  }

  /** Removes every candidate nobody references and nobody stored lately; one sweep at a time. */
  sweep(): Promise<void> {
    if (this.candidates.size === 0) return Promise.resolve();
    this.sweeping ??= this.removeUnreferenced().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async removeUnreferenced(): Promise<void> {
    try {
      const referenced = await this.store.referencedDigests();
      let removed = 0;
      for (const digest of [...this.candidates]) {
        if (referenced.has(digest) || (await this.store.removeBlobIfIdle(digest, this.options.graceMs))) {
          this.candidates.delete(digest);
          if (!referenced.has(digest)) removed++;
        }
      }
      storeBlobsSwept.inc(removed);
      if (removed > 0) this.logger.info({ removed, waiting: this.candidates.size }, "removed stored blobs of deleted workspaces");
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, "store sweep failed; trying again at the next one");
    }
  }
}
