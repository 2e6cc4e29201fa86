import { test } from "node:test";
import assert from "node:assert/strict";
import { SpanKind, trace } from "@opentelemetry/api";
import { node } from "@opentelemetry/sdk-node";
import { pino } from "pino";
import type { FacadeEvent } from "../../services/shared/events/events.ts";
import { NatsEventBus } from "../../services/shared/events/nats-bus.ts";
import { TestNatsServer } from "../support/nats.ts";
import { waitUntil } from "../support/process.ts";

test("an event published inside a trace is handled, on another NATS connection, in a consumer span of that trace", async (t) => {
  // The SDK's own in-memory exporter; both buses are the real ones over a real nats-server.
  const exporter = new node.InMemorySpanExporter();
  const provider = new node.NodeTracerProvider({ spanProcessors: [new node.SimpleSpanProcessor(exporter)] });
  provider.register();
  const server = await TestNatsServer.start();
  const config = { servers: [server.url], subjectPrefix: "traced" };
  const log = pino({ level: "silent" });
  const publisher = await NatsEventBus.connect(config, log, "spec-provider");
  const replica = await NatsEventBus.connect(config, log, "registry");
  t.after(async () => {
    await Promise.all([publisher.close(), replica.close()]);
    await server.dispose();
    await provider.shutdown();
  });

  const handled: Array<{ event: FacadeEvent; traceId: string | undefined; spanId: string | undefined }> = [];
  replica.subscribe((event) => {
    const active = trace.getActiveSpan()?.spanContext();
    handled.push({ event, traceId: active?.traceId, spanId: active?.spanId });
  });
  const tracer = trace.getTracer("test");
  const put: FacadeEvent = { type: "spec.put", id: "ws-traced", revision: "3" };
  const root = await tracer.startActiveSpan("PutSpec", async (span) => {
    await publisher.publish(put);
    span.end();
    return span.spanContext();
  });
  await waitUntil("the replica handled the event", async () => handled.length === 1);

  // The publisher's bus listens on the same subjects, so its own consumer span
  // may finish first; the replica's is the one its handler ran in.
  const replicaSpanId = handled[0]?.spanId;
  await waitUntil("the replica's consumer span ended", async () => exporter.getFinishedSpans().some((s) => s.spanContext().spanId === replicaSpanId));
  const spans = exporter.getFinishedSpans();
  const producer = spans.find((s) => s.kind === SpanKind.PRODUCER);
  const consumer = spans.find((s) => s.spanContext().spanId === replicaSpanId);
  assert.ok(producer && consumer, `spans: ${spans.map((s) => `${s.name}/${s.kind}`).join(", ")}`);
  assert.equal(producer.name, "traced.events.spec.put publish");
  assert.equal(producer.spanContext().traceId, root.traceId);
  assert.equal(producer.parentSpanContext?.spanId, root.spanId);
  assert.equal(consumer.kind, SpanKind.CONSUMER);
  assert.equal(consumer.name, "traced.events.spec.put process");
  assert.equal(consumer.spanContext().traceId, root.traceId, "the subscriber continues the publisher's trace");
  assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
  assert.deepEqual(handled[0], { event: put, traceId: root.traceId, spanId: consumer.spanContext().spanId });
});
