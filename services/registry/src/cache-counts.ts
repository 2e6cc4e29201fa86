import type { CacheCount } from "../../shared/telemetry/metrics.ts";
import type { CacheStats } from "./cache/stats.ts";

/** The caches' counters as cache_lookups_total series (read at each scrape). */
export function cacheCounts(stats: CacheStats): CacheCount[] {
  return [
    { tier: "spec", result: "hit", count: stats.specHits },
    { tier: "spec", result: "miss", count: stats.specMisses },
    { tier: "tag", result: "hit", count: stats.tagHits },
    { tier: "tag", result: "miss", count: stats.tagRevalidations },
    { tier: "blob", result: "hit", count: stats.blobHits },
    { tier: "blob", result: "miss", count: stats.blobMisses },
    { tier: "blob", result: "join", count: stats.blobJoins },
  ];
}
