import { singleFlightWaiters } from "../../../shared/telemetry/metrics.ts";

/**
 * Concurrent calls with the same key share one run of the work: the first
 * caller starts it, later callers get the same promise until it settles.
 * Nothing is remembered afterwards; caching is the caller's business. The
 * callers that joined a run are counted in singleflight_waiters under
 * operation while they wait, which shows a stampede being absorbed.
 */
export class SingleFlight<K, V> {
  private readonly running = new Map<K, Promise<V>>();

  constructor(private readonly operation: string) {}

  run(key: K, work: () => Promise<V>): Promise<V> {
    const pending = this.running.get(key);
    if (pending) {
      singleFlightWaiters.inc({ operation: this.operation });
      const done = () => singleFlightWaiters.dec({ operation: this.operation });
      pending.then(done, done);
      return pending;
    }
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
