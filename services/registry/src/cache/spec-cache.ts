import { LRUCache } from "lru-cache";
import type { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import { RegistryError } from "../errors.ts";
import type { SpecSource } from "../specs/source.ts";
import { SingleFlight } from "./single-flight.ts";
import type { CacheStats } from "./stats.ts";

/**
 * Specs of remote/<id> in memory, in front of the spec-providers. Events
 * (spec.put, spec.delete) drop an id at once; the TTL is the safety net,
 * short while events cannot arrive. Concurrent lookups of one id share one
 * call. A lookup that started before an invalidation neither fills the cache
 * nor is joined by lookups after it, so a put is never undone by a slow
 * answer about the spec before it. Unknown ids are not cached: a 404 is rare
 * and a spec put right after must be seen. When every spec-provider is
 * unavailable (NATS down under a nats-kv store, say), the last known spec is
 * used past its TTL: workspaces keep starting from what was cached.
 */
export class SpecCache implements SpecSource {
  private readonly entries = new LRUCache<string, { spec: ImageSpec; at: number }>({ max: 10_000 });
  private readonly flights = new SingleFlight<string, ImageSpec | undefined>("spec");
  /** Counts invalidations; ids remember the count at their last one, clear() moves the floor. */
  private epoch = 0;
  private clearedAt = 0;
  private readonly invalidatedAt = new LRUCache<string, number>({ max: 10_000 });

  constructor(
    private readonly source: SpecSource,
    /** The time to live now (it depends on whether events are flowing). */
    private readonly ttlMs: () => number,
    private readonly stats: CacheStats,
  ) {}

  async get(id: string): Promise<ImageSpec | undefined> {
    const hit = this.entries.get(id);
    if (hit && Date.now() - hit.at < this.ttlMs()) {
      this.stats.specHits++;
      return hit.spec;
    }
    this.stats.specMisses++;
    const generation = this.generation(id);
    return this.flights.run(`${id} ${generation}`, async () => {
      let spec: ImageSpec | undefined;
      try {
        spec = await this.source.get(id);
      } catch (err) {
        const last = this.entries.get(id);
        if (!last || !(err instanceof RegistryError) || err.code !== "UNAVAILABLE") throw err;
        this.stats.specStaleServed++;
        return last.spec;
      }
      if (spec && this.generation(id) === generation) this.entries.set(id, { spec, at: Date.now() });
      return spec;
    });
  }

  /**
   * A put or delete of id happened: the next lookup asks the spec-provider.
   * After a put the old spec stays as the fallback for a spec-provider that
   * cannot answer; a deleted one goes.
   */
  invalidate(id: string, deleted: boolean): void {
    this.epoch++;
    this.invalidatedAt.set(id, this.epoch);
    const entry = this.entries.get(id);
    if (!entry) return;
    this.stats.specInvalidations++;
    if (deleted) this.entries.delete(id);
    else entry.at = Number.NEGATIVE_INFINITY;
  }

  /** Events may have been missed: forget everything. */
  clear(): void {
    this.epoch++;
    this.clearedAt = this.epoch;
    this.entries.clear();
  }

  private generation(id: string): number {
    return Math.max(this.clearedAt, this.invalidatedAt.get(id) ?? 0);
  }
}
