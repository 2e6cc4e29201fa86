import { context, propagation, SpanKind, trace, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logging.ts";
import { drainOrClose } from "../nats-connection.ts";
import type { NatsConfig } from "../config/schema.ts";
import { allEventsSubject, eventSubject, facadeEventSchema, type FacadeEvent } from "./events.ts";
import { ListenedBus } from "./listeners.ts";

const headerSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => carrier.set(key, value) };
/** No-op until tracing is started (telemetry/tracing.ts). */
const tracer = trace.getTracer("registry-facade.events");

const headerGetter: TextMapGetter<MsgHdrs> = {
  get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
  keys: (carrier) => carrier.keys(),
};

/**
 * Events over core NATS. Missed events are not replayed: a subscriber that
 * reconnects after an outage is told through onEventsMissed and drops its spec
 * caches, which is both simpler and safer than replaying a history it cannot
 * be sure is complete. Trace context rides in the message headers (W3C
 * traceparent): a publish is a producer span, and handling the message a
 * consumer span continuing the publisher's trace.
 */
export class NatsEventBus extends ListenedBus {
  private constructor(
    private readonly connection: NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    super(log);
  }

  /**
   * Connects and subscribes; once connected, reconnects without end. By
   * default the first connection waits for the server too (a spec-provider
   * cannot serve without it); waitForServer false fails at once instead, for
   * a caller that retries in its own time (PendingEventBus).
   */
  static async connect(config: NatsConfig, log: Logger, name: string, options: { waitForServer?: boolean } = {}): Promise<NatsEventBus> {
    const connection = await connect({
      servers: config.servers,
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: options.waitForServer ?? true,
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
        const span = tracer.startSpan(`${message.subject} process`, { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats", "messaging.destination.name": message.subject } }, carrierContext);
        context.with(trace.setSpan(carrierContext, span), () => this.handlers.emit(parsed.data));
        span.end();
      }
    })();
    void (async () => {
      for await (const status of this.connection.status()) {
        if (status.type === "disconnect") {
          this.log.warn("NATS connection lost; events may be missed");
          this.connectionHandlers.emit(false);
        }
        if (status.type === "reconnect") {
          this.log.info("NATS connection back; dropping caches that may have missed events");
          this.missedHandlers.emit();
          this.connectionHandlers.emit(true);
        }
      }
    })();
  }

  async publish(event: FacadeEvent): Promise<void> {
    const subject = eventSubject(this.prefix, event);
    const span = tracer.startSpan(`${subject} publish`, { kind: SpanKind.PRODUCER, attributes: { "messaging.system": "nats", "messaging.destination.name": subject } });
    const messageHeaders = headers();
    propagation.inject(trace.setSpan(context.active(), span), messageHeaders, headerSetter);
    try {
      this.connection.publish(subject, JSON.stringify(event), { headers: messageHeaders });
    } finally {
      span.end();
    }
  }

  /** Delivers what was published, then closes; a connection that is down is just closed. */
  close(): Promise<void> {
    return drainOrClose(this.connection);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
