import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../shared/logging.ts";
import { storedSpecs } from "../../shared/telemetry/metrics.ts";
import type { SpecStore } from "./store/index.ts";

/** How long to wait before watching again after the store went away. */
const RETRY_MS = 2000;

/**
 * Keeps the spec_store_specs gauge current from a watch of the store
 * (the initial state, then every put and delete), which costs one request
 * per change on either backend instead of a listing per scrape. Ends with
 * the signal.
 */
export function trackStoreSize(store: SpecStore, signal: AbortSignal, logger: Logger): void {
  void (async () => {
    while (!signal.aborted) {
      const ids = new Set<string>();
      try {
        for await (const event of store.watch({ includeInitial: true, signal })) {
          if (event.kind === "put") ids.add(event.record.id);
          else if (event.kind === "delete") ids.delete(event.id);
          storedSpecs.set(ids.size);
        }
      } catch (err) {
        if (!signal.aborted) logger.debug({ reason: (err as Error).message }, "store watch for the size gauge ended; watching again");
      }
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
  })();
}
