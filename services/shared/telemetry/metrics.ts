import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * Every metric of both services, in one registry and one namespace. The
 * objects live here and the code that sees the event updates them; in the
 * all-in-one process both services share this registry, so one /metrics
 * shows everything. The README lists them; deploy/grafana/ graphs them.
 */
const NAMESPACE = "registry_facade_";

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: NAMESPACE });

const registers = [metricsRegistry];
/** From a cached manifest (milliseconds) to a layer streamed for minutes. */
const TRANSFER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Calls to other services: a deadline of a few seconds bounds them. */
const CALL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

// Registry.

export const httpRequests = new Counter({
  name: `${NAMESPACE}http_requests_total`,
  help: "Registry HTTP requests by route (manifest, blob, base, other), method and status, counted when the response ends",
  labelNames: ["route", "method", "status"] as const,
  registers,
});

export const httpRequestDuration = new Histogram({
  name: `${NAMESPACE}http_request_duration_seconds`,
  help: "Registry HTTP request duration until the response ended (a blob: its whole transfer)",
  labelNames: ["route", "method", "status"] as const,
  buckets: TRANSFER_BUCKETS,
  registers,
});

export const compositionDuration = new Histogram({
  name: `${NAMESPACE}manifest_composition_duration_seconds`,
  help: "Composing and storing one image (resolving base and add-on images upstream included), by result (ok, error)",
  labelNames: ["result"] as const,
  buckets: CALL_BUCKETS,
  registers,
});

export const blobBytesServed = new Counter({
  name: `${NAMESPACE}blob_bytes_served_total`,
  help: "Blob bytes sent to clients by source: upstream, cache, file (static layer), content (remote content URL), store (configs, direct layers)",
  labelNames: ["source"] as const,
  registers,
});

export const storeBlobsSwept = new Counter({
  name: `${NAMESPACE}store_blobs_swept_total`,
  help: "Stored manifests, configs and direct layers of deleted workspaces removed from registry.store",
  registers,
});

export const blobStreamsInFlight = new Gauge({
  name: `${NAMESPACE}blob_streams_in_flight`,
  help: "Blob bodies being sent right now",
  registers,
});

export const upstreamRequestDuration = new Histogram({
  name: `${NAMESPACE}upstream_request_duration_seconds`,
  help: "Time from sending a request to an upstream registry or content URL to its response headers, by host and status",
  labelNames: ["host", "status"] as const,
  buckets: CALL_BUCKETS,
  registers,
});

export const upstreamRequestErrors = new Counter({
  name: `${NAMESPACE}upstream_request_errors_total`,
  help: "Upstream requests that failed, by host and kind: network (no answer, timeout) or status (429, 5xx)",
  labelNames: ["host", "kind"] as const,
  registers,
});

/** One cache counter as its owner keeps it: a plain number that only grows. */
export interface CacheCount {
  tier: "spec" | "tag" | "manifest" | "blob";
  result: "hit" | "miss" | "join";
  count: number;
}

/** What a registry's caches report at each scrape: they count in plain numbers on their hot paths. */
export interface CacheReading {
  lookups: CacheCount[];
  /** Bytes of committed blobs in the blob cache. */
  blobCacheBytes: number;
  /** Blobs whose bytes did not match their digest (nothing served or cached whole). */
  blobIntegrityFailures: number;
  /** Whether cache-invalidation events flow (false while NATS is away: caches may be stale). */
  eventsConnected: boolean;
}

/** One reader per running registry (see observeCaches). */
const cacheReaders = new Set<() => CacheReading>();
/** Lookups counted here directly (cacheLookup), by "tier result". */
const directCacheCounts = new Map<string, CacheCount>();
const readings = () => [...cacheReaders].map((read) => read());

const cacheLookups = new Counter({
  name: `${NAMESPACE}cache_lookups_total`,
  help: "Cache lookups by tier (spec, tag, manifest, blob) and result (hit; miss; join: a blob fetch another request had started)",
  labelNames: ["tier", "result"] as const,
  registers,
  collect() {
    this.reset();
    const all = [...directCacheCounts.values(), ...readings().flatMap((r) => r.lookups)];
    for (const { tier, result, count } of all) this.inc({ tier, result }, count);
  },
});

const blobCacheBytes = new Gauge({
  name: `${NAMESPACE}blob_cache_bytes`,
  help: "Bytes of committed blobs in the blob cache (bounded by registry.storeMaxBytes)",
  registers,
  collect() {
    this.set(readings().reduce((n, r) => n + r.blobCacheBytes, 0));
  },
});

const blobIntegrityFailures = new Counter({
  name: `${NAMESPACE}blob_integrity_failures_total`,
  help: "Blobs from an upstream or content URL whose bytes did not match their digest",
  registers,
  collect() {
    this.reset();
    this.inc(readings().reduce((n, r) => n + r.blobIntegrityFailures, 0));
  },
});

const eventsConnected = new Gauge({
  name: `${NAMESPACE}events_connected`,
  help: "1 while cache-invalidation events flow to the registry (NATS connected), 0 while they may be missed",
  registers,
  collect() {
    this.set(readings().every((r) => r.eventsConnected) ? 1 : 0);
  },
});

/** One lookup of a cache that keeps no counters of its own. */
export function cacheLookup(tier: CacheCount["tier"], result: CacheCount["result"]): void {
  const key = `${tier} ${result}`;
  const entry = directCacheCounts.get(key) ?? { tier, result, count: 0 };
  entry.count++;
  directCacheCounts.set(key, entry);
}

/** Makes a registry's cache numbers metrics; returns the function that stops reading them (the registry stops). */
export function observeCaches(read: () => CacheReading): () => void {
  cacheReaders.add(read);
  return () => cacheReaders.delete(read);
}

export const singleFlightWaiters = new Gauge({
  name: `${NAMESPACE}singleflight_waiters`,
  help: "Requests waiting on work another request started (a composition, a spec lookup, a tag resolution, a manifest or config fetch), by operation",
  labelNames: ["operation"] as const,
  registers,
});

export const specLookupDuration = new Histogram({
  name: `${NAMESPACE}spec_lookup_duration_seconds`,
  help: "Looking up a workspace's image spec, by source (remote, fixed) and result (found, not_found, error)",
  labelNames: ["source", "result"] as const,
  buckets: CALL_BUCKETS,
  registers,
});

export const specLookupErrors = new Counter({
  name: `${NAMESPACE}spec_lookup_errors_total`,
  help: "Spec-provider calls that failed (not NOT_FOUND), by provider address and gRPC code",
  labelNames: ["provider", "code"] as const,
  registers,
});

// Spec-provider.

export const rpcHandled = new Counter({
  name: `${NAMESPACE}grpc_server_handled_total`,
  help: "Spec-provider gRPC calls completed, by method and status code",
  labelNames: ["method", "code"] as const,
  registers,
});

export const rpcDuration = new Histogram({
  name: `${NAMESPACE}grpc_server_handling_seconds`,
  help: "Spec-provider gRPC call duration (a watch stream: its whole life), by method and status code",
  labelNames: ["method", "code"] as const,
  buckets: CALL_BUCKETS,
  registers,
});

export const storedSpecs = new Gauge({
  name: `${NAMESPACE}spec_store_specs`,
  help: "Workspace specs in the spec-provider's store",
  registers,
});

/** Seconds since a performance.now() reading. */
export function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}
