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
