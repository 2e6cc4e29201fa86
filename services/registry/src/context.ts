import type { Config } from "../../shared/config/schema.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import { join } from "node:path";
import { BlobServer } from "./blobs/serve.ts";
import { BlobCache } from "./cache/blob-cache.ts";
import { followCacheEvents } from "./cache/events.ts";
import { StoreSweeper } from "./store-sweep.ts";
import { SpecCache } from "./cache/spec-cache.ts";
import { CacheStats } from "./cache/stats.ts";
import { TagCache } from "./cache/tag-cache.ts";
import type { EventBus } from "../../shared/events/events.ts";
import { openEventBus } from "../../shared/events/open.ts";
import type { ComposeDeps } from "./compose/compose.ts";
import { ManifestService } from "./manifests.ts";
import { FixedSpecSource } from "./specs/fixed.ts";
import { RemoteSpecSource } from "./specs/remote.ts";
import { describeStaticLayers, StaticLayers } from "./static-layers.ts";
import { Store } from "./store.ts";
import { UpstreamClient } from "./upstream/client.ts";
import { TokenAuth } from "./upstream/token-auth.ts";
import { openPullAuth, type PullAuth } from "./auth/pull-auth.ts";

/** Everything the routes use, built once from the validated configuration. */
export interface AppContext {
  config: Config["registry"];
  logger: Logger;
  store: Store;
  manifests: ManifestService;
  blobs: BlobServer;
  /** registry.staticLayer: reloaded when the configuration file changes; readiness asks whether its images resolve. */
  staticLayers: StaticLayers;
  /** Counters of every cache, for metrics. */
  cacheStats: CacheStats;
  /** registry.requireAuth's check of clients' credentials; undefined when pulls are open. */
  pullAuth: PullAuth | undefined;
  close(): Promise<void>;
}

export interface RegistryOptions {
  /** A bus shared with a spec-provider in this process (all-in-one); without it, NATS when configured. */
  eventBus?: EventBus;
}

export async function createContext(config: Config, logger: Logger, options: RegistryOptions = {}): Promise<AppContext> {
  const registry = config.registry;
  const store = new Store(registry.store);
  await store.init();
  const cacheStats = new CacheStats();
  const blobCache = new BlobCache(join(registry.store, "cache"), registry.storeMaxBytes, cacheStats, subsystemLogger(logger, "blob-cache"));
  await blobCache.init();
  // File layers are hashed once here: a missing or broken file stops start-up, not a pull.
  const described = await describeStaticLayers(registry.staticLayer);
  const upstreamAuth = await TokenAuth.open(config, subsystemLogger(logger, "upstream-auth"));
  const pullAuth = await openPullAuth(registry, subsystemLogger(logger, "pull-auth"));
  const tags = new TagCache(registry.tagCacheTtlMs, cacheStats);
  const client = new UpstreamClient({ insecureRegistries: registry.insecureRegistries, auth: upstreamAuth, tagCache: tags, documentStore: store });
  const remote = await RemoteSpecSource.open(registry.remoteSpecProvider, registry.specProviderTimeoutMs, subsystemLogger(logger, "spec-provider"));
  // A registry starts while NATS is down: it serves from its caches on short TTLs until events flow.
  const events = await openEventBus(config, options.eventBus, subsystemLogger(logger, "events"), "registry", { waitForNats: false });
  const specs = new SpecCache(remote, () => (following.eventsFlowing() ? registry.specCacheTtlMs : registry.specCacheTtlWithoutEventsMs), cacheStats);
  const deps: ComposeDeps = { client, store, platform: registry.platform, staticLayers: described };
  const staticLayers = new StaticLayers(deps, subsystemLogger(logger, "static-layers"));
  const manifests = new ManifestService(
    { remote: specs, fixed: new FixedSpecSource(registry.fixedSpecFN) },
    deps,
    store,
    subsystemLogger(logger, "manifests"),
  );
  const sweeper = new StoreSweeper(store, { intervalMs: registry.storeSweepIntervalMs, graceMs: registry.storeSweepGraceMs }, subsystemLogger(logger, "store-sweep"));
  const forgetWorkspace = (id: string) => {
    const name = `remote/${id}`;
    manifests.forgetRepository(name);
    void sweeper.forget(name).catch((err: unknown) => logger.warn({ name, reason: (err as Error).message }, "could not forget a deleted workspace's repository"));
  };
  const following = followCacheEvents(events, { specs, tags }, staticLayers, cacheStats, subsystemLogger(logger, "events"), forgetWorkspace);
  return {
    config: registry,
    logger,
    store,
    manifests,
    staticLayers,
    blobs: new BlobServer(store, client, blobCache, subsystemLogger(logger, "blobs")),
    cacheStats,
    pullAuth,
    async close() {
      following.stop();
      sweeper.stop();
      if (events.owned) await events.bus.close();
      remote.close();
      pullAuth?.close();
      await client.close();
      await upstreamAuth.close();
    },
  };
}
