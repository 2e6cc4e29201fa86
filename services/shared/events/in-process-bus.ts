import type { EventBus, FacadeEvent, FacadeEventHandler } from "./events.ts";

/**
 * The bus of the embedded default, where both services run in one process and
 * there is no NATS: handlers are called right after the publish returns, like
 * a message that arrived.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Set<FacadeEventHandler>();

  async publish(event: FacadeEvent): Promise<void> {
    for (const handler of [...this.handlers]) queueMicrotask(() => handler(event));
  }

  subscribe(handler: FacadeEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Nothing is ever missed in one process. */
  onEventsMissed(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
