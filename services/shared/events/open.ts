import type { Config } from "../config/schema.ts";
import type { Logger } from "../logging.ts";
import type { EventBus } from "./events.ts";
import { InProcessEventBus } from "./in-process-bus.ts";
import { NatsEventBus } from "./nats-bus.ts";

/** The bus a service uses, and whether it owns it (and closes it when stopping). */
export interface OpenedEventBus {
  bus: EventBus;
  owned: boolean;
  /** False when no other process or service can reach this bus: a bus of its own without NATS. */
  shared: boolean;
}

/**
 * A bus handed in (all-in-one: both services share one) wins; else NATS when
 * the nats section is there; else an in-process bus nobody else publishes on.
 */
export async function openEventBus(config: Config, given: EventBus | undefined, logger: Logger, name: string): Promise<OpenedEventBus> {
  if (given) return { bus: given, owned: false, shared: true };
  if (config.nats) return { bus: await NatsEventBus.connect(config.nats, logger, name), owned: true, shared: true };
  return { bus: new InProcessEventBus(), owned: true, shared: false };
}
