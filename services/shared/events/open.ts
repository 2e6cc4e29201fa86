import type { Config } from "../config/schema.ts";
import type { Logger } from "../logging.ts";
import type { EventBus } from "./events.ts";
import { InProcessEventBus } from "./in-process-bus.ts";
import { NatsEventBus } from "./nats-bus.ts";
import { PendingEventBus } from "./pending-bus.ts";

/** The bus a service uses, and whether it owns it (and closes it when stopping). */
export interface OpenedEventBus {
  bus: EventBus;
  owned: boolean;
  /** Whether events can arrive right now: false for a bus of its own without NATS, and while NATS is being connected. */
  connected: boolean;
}

/**
 * A bus handed in (all-in-one: both services share one) wins; else NATS when
 * the nats section is there; else an in-process bus nobody else publishes on.
 * waitForNats false: return at once and connect in the background (the
 * registry serves while NATS is down; its caches then run on short TTLs).
 */
export async function openEventBus(config: Config, given: EventBus | undefined, logger: Logger, name: string, options: { waitForNats: boolean } = { waitForNats: true }): Promise<OpenedEventBus> {
  if (given) return { bus: given, owned: false, connected: true };
  if (config.nats && options.waitForNats) return { bus: await NatsEventBus.connect(config.nats, logger, name), owned: true, connected: true };
  if (config.nats) {
    const nats = config.nats;
    return { bus: new PendingEventBus(() => NatsEventBus.connect(nats, logger, name, { waitForServer: false }), logger), owned: true, connected: false };
  }
  return { bus: new InProcessEventBus(logger), owned: true, connected: false };
}
