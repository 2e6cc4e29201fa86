import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logging.ts";
import type { EventBus, FacadeEvent } from "./events.ts";
import { ListenedBus } from "./listeners.ts";

/** Pause between connection attempts while NATS is down. */
const RETRY_MS = 500;

/**
 * A bus whose connection is still being made (NATS down at start-up), so the
 * service can start and serve meanwhile. Subscriptions take effect once
 * connected; events published before are dropped (the subscribers' TTLs
 * cover them). Connecting counts as a reconnect: events may have been missed
 * until then, so onEventsMissed handlers run, then onConnectionChange(true).
 */
export class PendingEventBus extends ListenedBus {
  private bus: EventBus | undefined;
  private closed = false;
  private readonly unsubscribes: Array<() => void> = [];

  /**
   * connect is tried until it succeeds or the bus is closed: a connection
   * attempt that waited for the server by itself could not be called off, and
   * would keep a stopped service's process alive.
   */
  constructor(
    private readonly connect: () => Promise<EventBus>,
    private readonly log: Logger,
  ) {
    super(log);
    void this.keepTrying();
  }

  private async keepTrying(): Promise<void> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        return this.connected(await this.connect());
      } catch (err) {
        // Once, not every half second for as long as NATS is down.
        if (attempt === 1) this.log.warn({ reason: (err as Error).message }, "event bus not reachable; retrying, caches rely on their TTLs meanwhile");
      }
      await sleep(RETRY_MS, undefined, { ref: false });
    }
  }

  private connected(bus: EventBus): void {
    if (this.closed) return void bus.close();
    this.bus = bus;
    this.unsubscribes.push(
      bus.subscribe((event) => this.handlers.emit(event)),
      bus.onEventsMissed(() => this.missedHandlers.emit()),
      bus.onConnectionChange?.((now) => this.connectionHandlers.emit(now)) ?? (() => undefined),
    );
    this.log.info("event bus connected");
    this.missedHandlers.emit();
    this.connectionHandlers.emit(true);
  }

  async publish(event: FacadeEvent): Promise<void> {
    if (this.bus) return this.bus.publish(event);
    this.log.warn({ event }, "event bus not connected yet; event dropped");
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribes.forEach((stop) => stop());
    await this.bus?.close();
  }
}
