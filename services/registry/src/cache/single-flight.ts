/**
 * Concurrent calls with the same key share one run of the work: the first
 * caller starts it, later callers get the same promise until it settles.
 * Nothing is remembered afterwards; caching is the caller's business.
 */
export class SingleFlight<K, V> {
  private readonly running = new Map<K, Promise<V>>();

  run(key: K, work: () => Promise<V>): Promise<V> {
    const pending = this.running.get(key);
    if (pending) return pending;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
