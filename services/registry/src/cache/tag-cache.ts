import { LRUCache } from "lru-cache";
import { RegistryError } from "../errors.ts";
import { SingleFlight } from "./single-flight.ts";
import type { CacheStats } from "./stats.ts";

interface TagEntry {
  digest: string;
  checkedAt: number;
  /** Why the digest could not be revalidated, while it is served stale. */
  stale?: string;
}

/**
 * Upstream tag → digest. A digest is reused for ttlMs, then revalidated (a
 * HEAD, which registries do not count as a pull); concurrent resolutions of
 * one tag share one request. When revalidation fails because the upstream is
 * unreachable or refuses for now (429, 5xx: UNAVAILABLE), the last digest is
 * served stale (stale-if-error) until the next revalidation ttlMs later, and
 * staleReason says so for the Warning header. A tag that is gone (404) is
 * never served stale.
 */
export class TagCache {
  private readonly entries = new LRUCache<string, TagEntry>({ max: 10_000 });
  private readonly flights = new SingleFlight<string, string>("tag");

  constructor(
    private readonly ttlMs: number,
    private readonly stats: CacheStats,
  ) {}

  resolve(key: string, revalidate: () => Promise<string>): Promise<string> {
    const entry = this.entries.get(key);
    if (entry && Date.now() - entry.checkedAt < this.ttlMs) {
      this.stats.tagHits++;
      return Promise.resolve(entry.digest);
    }
    return this.flights.run(key, async () => {
      this.stats.tagRevalidations++;
      try {
        const digest = await revalidate();
        this.entries.set(key, { digest, checkedAt: Date.now() });
        return digest;
      } catch (err) {
        const previous = this.entries.get(key);
        if (!previous || !(err instanceof RegistryError) || err.code !== "UNAVAILABLE") throw err;
        this.stats.tagStaleServed++;
        const status = (err.detail as { status?: number } | undefined)?.status;
        this.entries.set(key, { digest: previous.digest, checkedAt: Date.now(), stale: status === undefined ? err.message : `${err.message} (${status})` });
        return previous.digest;
      }
    });
  }

  /** Forgets every resolution (another replica's static layers changed: images were likely re-pushed). */
  clear(): void {
    this.entries.clear();
  }

  /** Why key's digest is served stale, or undefined when it is fresh (or unknown). */
  staleReason(key: string): string | undefined {
    return this.entries.get(key)?.stale;
  }
}
