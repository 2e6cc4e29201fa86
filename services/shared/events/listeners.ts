import type { Logger } from "../logging.ts";
import type { EventBus, FacadeEvent, FacadeEventHandler } from "./events.ts";

/**
 * The handlers of one kind of notification (events, "events were missed",
 * connection changes). Each handler runs on its own: one that throws is
 * reported and the others still run, and one that unsubscribes while being
 * called does not disturb the round.
 */
export class Listeners<Args extends unknown[]> {
  private readonly handlers = new Set<(...args: Args) => void>();

  constructor(private readonly onError: (err: unknown, args: Args) => void) {}

  /** Returns the function that removes the handler again. */
  add(handler: (...args: Args) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  emit(...args: Args): void {
    for (const handler of [...this.handlers]) {
      try {
        handler(...args);
      } catch (err) {
        this.onError(err, args);
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}

/**
 * The subscriber side of a bus that can lose its connection (NATS, and the
 * bus still connecting to it): events, "events may have been missed", and
 * connection changes, each a Listeners whose failing handler is logged.
 */
export abstract class ListenedBus implements EventBus {
  protected readonly handlers: Listeners<[FacadeEvent]>;
  protected readonly missedHandlers: Listeners<[]>;
  protected readonly connectionHandlers: Listeners<[boolean]>;

  constructor(log: Logger) {
    this.handlers = new Listeners((err, [event]) => log.error({ err, event }, "event handler failed"));
    this.missedHandlers = new Listeners((err) => log.error({ err }, "events-missed handler failed"));
    this.connectionHandlers = new Listeners((err) => log.error({ err }, "connection-change handler failed"));
  }

  abstract publish(event: FacadeEvent): Promise<void>;
  abstract close(): Promise<void>;

  subscribe(handler: FacadeEventHandler): () => void {
    return this.handlers.add(handler);
  }

  onEventsMissed(handler: () => void): () => void {
    return this.missedHandlers.add(handler);
  }

  onConnectionChange(handler: (connected: boolean) => void): () => void {
    return this.connectionHandlers.add(handler);
  }
}
