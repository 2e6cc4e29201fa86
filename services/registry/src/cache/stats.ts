/**
 * Counters of the registry's caches, plain numbers the metrics code reads
 * (Prometheus counters and gauges are registered elsewhere, from these).
 * Counters only grow; gauges are the functions at the end.
 */
export class CacheStats {
  /** Blob GETs answered from a committed cache file. */
  blobHits = 0;
  /** Blob GETs that started an upstream fetch into the cache. */
  blobMisses = 0;
  /** Blob GETs that joined a fetch another request had started. */
  blobJoins = 0;
  /** Blobs committed to the cache (digest verified). */
  blobCommits = 0;
  /** Fetches whose bytes did not match the digest: nothing committed. */
  blobIntegrityFailures = 0;
  /** Fetches stopped because every reader went away. */
  blobFetchesAbandoned = 0;
  /** Committed blobs removed to stay under registry.storeMaxBytes. */
  blobEvictions = 0;
  /** Blob GETs streamed without the cache because it could not be written (full, read-only, broken). */
  blobCacheDegraded = 0;
  /** Partial files removed at start-up. */
  blobPartialsRemoved = 0;
  /** Tag resolutions answered from the cache without asking upstream. */
  tagHits = 0;
  /** Tag resolutions that asked upstream (HEAD). */
  tagRevalidations = 0;
  /** Tag resolutions answered with a stale digest because upstream failed (stale-if-error). */
  tagStaleServed = 0;
  specHits = 0;
  specMisses = 0;
  /** Specs served past their TTL because no spec-provider could answer. */
  specStaleServed = 0;
  /** Spec cache entries dropped by spec.put / spec.delete events. */
  specInvalidations = 0;
  /** Times the event bus reported that events may have been missed (NATS reconnects). */
  eventOutages = 0;

  /** Bytes of committed blobs in the cache now (a gauge; the blob cache sets it). */
  blobCacheBytes: () => number = () => 0;
  /** Whether cache-invalidation events are flowing (a gauge; false while NATS is away). */
  eventsConnected: () => boolean = () => true;
}
