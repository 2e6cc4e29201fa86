import type { Config } from "../../shared/config/schema.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import { join } from "node:path";
import { BlobServer } from "./blobs/serve.ts";
import { BlobCache } from "./cache/blob-cache.ts";
import { CacheStats } from "./cache/stats.ts";
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

export async function createContext(config: Config, logger: Logger): Promise<AppContext> {
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
  const client = new UpstreamClient({ insecureRegistries: registry.insecureRegistries, auth: upstreamAuth });
  const remote = new RemoteSpecSource(registry.remoteSpecProvider, registry.specProviderTimeoutMs, subsystemLogger(logger, "spec-provider"));
  const deps: ComposeDeps = { client, store, platform: registry.platform, staticLayers: described };
  const staticLayers = new StaticLayers(deps, subsystemLogger(logger, "static-layers"));
  const manifests = new ManifestService(
    { remote, fixed: new FixedSpecSource(registry.fixedSpecFN) },
    deps,
    store,
    subsystemLogger(logger, "manifests"),
  );
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
      remote.close();
      pullAuth?.close();
      await client.close();
      await upstreamAuth.close();
    },
  };
}
