import { context, propagation, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logging.ts";
import type { NatsConfig } from "../config/schema.ts";
import { allEventsSubject, eventSubject, facadeEventSchema, type EventBus, type FacadeEvent, type FacadeEventHandler } from "./events.ts";

const headerSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => carrier.set(key, value) };
const headerGetter: TextMapGetter<MsgHdrs> = {
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
  keys: (carrier) => carrier.keys(),
};

/**
 * Events over core NATS. Missed events are not replayed: a subscriber that
 * reconnects after an outage is told through onEventsMissed and drops its spec
 * caches, which is both simpler and safer than replaying a history it cannot
 * be sure is complete. Trace context rides in the message headers (W3C
 * traceparent) so a trace continues from publisher to subscriber.
 */
export class NatsEventBus implements EventBus {
  private readonly handlers = new Set<FacadeEventHandler>();
  private readonly missedHandlers = new Set<() => void>();

  private constructor(
    private readonly connection: NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /**
   * Connects and subscribes. The first connection waits for the server but
   * retries without end, so a registry starts even while NATS is down.
   */
  static async connect(config: NatsConfig, log: Logger, name: string): Promise<NatsEventBus> {
    const connection = await connect({
      servers: config.servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
    });
    const bus = new NatsEventBus(connection, config.subjectPrefix, log);
    bus.listen();
    // The subscription is live only once the server has it; without the
    // round trip an event published right after start could pass us by.
    await connection.flush();
    return bus;
  }

  private listen(): void {
    const subscription = this.connection.subscribe(allEventsSubject(this.prefix));
    void (async () => {
      for await (const message of subscription) {
        const parsed = facadeEventSchema.safeParse(safeJson(message.string()));
        if (!parsed.success) {
          this.log.warn({ subject: message.subject }, "ignoring a malformed event");
          continue;
        }
        const carrierContext = message.headers ? propagation.extract(context.active(), message.headers, headerGetter) : context.active();
        context.with(carrierContext, () => this.dispatch(parsed.data));
      }
    })();
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === "disconnect") this.log.warn("NATS connection lost; events may be missed");
        if (status.type === "reconnect") {
          this.log.info("NATS connection back; dropping caches that may have missed events");
          for (const handler of [...this.missedHandlers]) handler();
        }
      }
    })();
  }

  private dispatch(event: FacadeEvent): void {
    for (const handler of [...this.handlers]) {
      try {
        handler(event);
      } catch (err) {
        this.log.error({ err, event }, "event handler failed");
      }
    }
  }

  async publish(event: FacadeEvent): Promise<void> {
    const messageHeaders = headers();
    propagation.inject(context.active(), messageHeaders, headerSetter);
    this.connection.publish(eventSubject(this.prefix, event), JSON.stringify(event), { headers: messageHeaders });
  }

  subscribe(handler: FacadeEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  onEventsMissed(handler: () => void): () => void {
    this.missedHandlers.add(handler);
    return () => this.missedHandlers.delete(handler);
  }

  /** Delivers what was published, then closes; a connection that is down is just closed. */
  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    try {
      await this.connection.drain();
    } catch {
      await this.connection.close();
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
