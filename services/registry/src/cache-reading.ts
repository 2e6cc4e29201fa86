import type { CacheReading } from "../../shared/telemetry/metrics.ts";
import type { CacheStats } from "./cache/stats.ts";

/** The caches' counters and gauges as metrics (read at each scrape). */
export function cacheReading(stats: CacheStats): CacheReading {
  return {
    lookups: [
      { tier: "spec", result: "hit", count: stats.specHits },
      { tier: "spec", result: "miss", count: stats.specMisses },
      { tier: "tag", result: "hit", count: stats.tagHits },
      { tier: "tag", result: "miss", count: stats.tagRevalidations },
      { tier: "blob", result: "hit", count: stats.blobHits },
      { tier: "blob", result: "miss", count: stats.blobMisses },
      { tier: "blob", result: "join", count: stats.blobJoins },
    ],
    blobCacheBytes: stats.blobCacheBytes(),
    blobIntegrityFailures: stats.blobIntegrityFailures,
    eventsConnected: stats.eventsConnected(),
  };
}
