import type { OpenedEventBus } from "../../../shared/events/open.ts";
import type { Logger } from "../../../shared/logging.ts";
import type { StaticLayers } from "../static-layers.ts";
import type { SpecCache } from "./spec-cache.ts";
import type { CacheStats } from "./stats.ts";
import type { TagCache } from "./tag-cache.ts";

/**
 * The registry's side of cache invalidation. spec.put / spec.delete drop the
 * id's cached spec (compositions are cached per spec digest, so a new or
 * deleted spec can never be answered from one). A reconnect after an outage
 * drops every spec, since events may have been missed; until then the spec
 * cache runs on its short TTL (see eventsFlowing). This replica's static
 * layer reloads are published; another replica's make this one re-resolve
 * its tags at the next pull. A deleted workspace is handed to
 * forgetWorkspace, which frees what the registry stored for it.
 */
export function followCacheEvents(
  opened: OpenedEventBus,
  caches: { specs: SpecCache; tags: TagCache },
  staticLayers: StaticLayers,
  stats: CacheStats,
  logger: Logger,
  forgetWorkspace: (id: string) => void,
): { eventsFlowing(): boolean; stop(): void } {
  const { bus } = opened;
  // A bus nobody else publishes on carries no events, nor does NATS before it is connected: the short TTL applies.
  let connected = opened.connected;
  stats.eventsConnected = () => connected;
  const stops = [
    bus.subscribe((event) => {
      if (event.type === "static-layers.changed") {
        if (event.fingerprint === staticLayers.fingerprint) return;
        logger.info({ fingerprint: event.fingerprint }, "another replica changed its static layers; re-resolving tags");
        caches.tags.clear();
        return;
      }
      logger.debug({ event }, "spec changed; dropping its cached spec");
      caches.specs.invalidate(event.id, event.type === "spec.delete");
      if (event.type === "spec.delete") forgetWorkspace(event.id);
    }),
    bus.onEventsMissed(() => {
      stats.eventOutages++;
      caches.specs.clear();
    }),
    bus.onConnectionChange?.((now) => (connected = now)) ?? (() => undefined),
    staticLayers.onChange((fingerprint) => {
      bus.publish({ type: "static-layers.changed", fingerprint }).catch((err: unknown) => logger.warn({ reason: (err as Error).message }, "could not publish static-layers.changed"));
    }),
  ];
  return {
    eventsFlowing: () => connected,
    stop: () => stops.forEach((stop) => stop()),
  };
}
