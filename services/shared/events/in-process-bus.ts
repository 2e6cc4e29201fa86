import type { Logger } from "../logging.ts";
import type { EventBus, FacadeEvent, FacadeEventHandler } from "./events.ts";
import { Listeners } from "./listeners.ts";

/**
 * The bus of the embedded default, where both services run in one process and
 * there is no NATS: handlers are called right after the publish returns, like
 * a message that arrived (and, like one, a handler that throws is logged, not
 * thrown into the publisher or the event loop).
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers: Listeners<[FacadeEvent]>;

  constructor(log: Logger) {
    this.handlers = new Listeners((err, [event]) => log.error({ err, event }, "event handler failed"));
  }

  async publish(event: FacadeEvent): Promise<void> {
    queueMicrotask(() => this.handlers.emit(event));
  }

  subscribe(handler: FacadeEventHandler): () => void {
    return this.handlers.add(handler);
  }

  /** Nothing is ever missed in one process. */
  onEventsMissed(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
