import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { NatsEventBus } from "../../services/shared/events/nats-bus.ts";
import { InProcessEventBus } from "../../services/shared/events/in-process-bus.ts";
import type { FacadeEvent } from "../../services/shared/events/events.ts";
import { TestNatsServer } from "../support/nats.ts";
import { waitUntil } from "../support/process.ts";
import { connect } from "@nats-io/transport-node";

const log = pino({ level: "silent" });

test("events published on one NATS connection reach every subscriber, and survive a server restart", async (t) => {
  const server = await TestNatsServer.start();
  const config = { servers: [server.url], subjectPrefix: "test-facade" };
  const publisher = await NatsEventBus.connect(config, log, "publisher");
  const replicaA = await NatsEventBus.connect(config, log, "replica-a");
  const replicaB = await NatsEventBus.connect(config, log, "replica-b");
  t.after(async () => {
    await Promise.all([publisher.close(), replicaA.close(), replicaB.close()]);
    await server.dispose();
  });

  const seenA: FacadeEvent[] = [];
  const seenB: FacadeEvent[] = [];
  replicaA.subscribe((e) => seenA.push(e));
  replicaB.subscribe((e) => seenB.push(e));
  let missedA = 0;
  replicaA.onEventsMissed(() => missedA++);

  const put: FacadeEvent = { type: "spec.put", id: "ws-1", revision: "18446744073709551615" };
  await publisher.publish(put);
  await waitUntil("both replicas see the put", async () => seenA.length === 1 && seenB.length === 1);
  assert.deepEqual(seenA[0], put);
  assert.deepEqual(seenB[0], put);

  await server.restart();
  await waitUntil("the replica learns it may have missed events", async () => missedA >= 1, { timeoutMs: 20_000 });

  const del: FacadeEvent = { type: "spec.delete", id: "ws-1", revision: "7" };
  await waitUntil("events flow again after the restart", async () => {
    await publisher.publish(del);
    return seenA.some((e) => e.type === "spec.delete") && seenB.some((e) => e.type === "spec.delete");
  }, { timeoutMs: 20_000 });
});

test("a malformed message on the event subject is ignored, not delivered or fatal", async (t) => {
  const server = await TestNatsServer.start();
  const bus = await NatsEventBus.connect({ servers: [server.url], subjectPrefix: "p" }, log, "replica");
  t.after(async () => {
    await bus.close();
    await server.dispose();
  });
  const seen: FacadeEvent[] = [];
  bus.subscribe((e) => seen.push(e));

  const raw = await connect({ servers: [server.url] });
  raw.publish("p.events.spec.put", "not json");
  raw.publish("p.events.spec.put", JSON.stringify({ type: "spec.put", id: "x", revision: -1 }));
  raw.publish("p.events.spec.put", JSON.stringify({ type: "spec.put", id: "ok", revision: "1" }));
  await raw.drain();
  await waitUntil("the valid event arrives", async () => seen.length > 0);
  assert.deepEqual(seen, [{ type: "spec.put", id: "ok", revision: "1" }]);
});

test("the in-process bus delivers to every subscriber until unsubscribed", async () => {
  const bus = new InProcessEventBus(log);
  const seen: string[] = [];
  const stop = bus.subscribe((e) => seen.push(`a:${e.type}`));
  bus.subscribe((e) => seen.push(`b:${e.type}`));
  await bus.publish({ type: "static-layers.changed", fingerprint: "f1" });
  await new Promise((r) => setImmediate(r));
  stop();
  await bus.publish({ type: "spec.delete", id: "x", revision: "2" });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ["a:static-layers.changed", "b:static-layers.changed", "b:spec.delete"]);
});

test("a subscriber that throws is logged and the others still get the event, on either bus", async (t) => {
  const server = await TestNatsServer.start();
  t.after(() => server.dispose());
  const logged: string[] = [];
  const capturing = pino({ level: "error" }, { write: (line: string) => void logged.push(line) });
  const nats = await NatsEventBus.connect({ servers: [server.url], subjectPrefix: "throwing" }, capturing, "test");
  t.after(() => nats.close());
  for (const bus of [new InProcessEventBus(capturing), nats]) {
    const seen: string[] = [];
    bus.subscribe(() => {
      throw new Error("subscriber bug");
    });
    bus.subscribe((e) => seen.push(e.type));
    logged.length = 0;
    await bus.publish({ type: "spec.delete", id: "x", revision: "2" });
    await waitUntil("the second subscriber got the event", async () => seen.length === 1);
    assert.deepEqual(seen, ["spec.delete"]);
    assert.equal(logged.length, 1);
    assert.match(logged[0] ?? "", /"msg":"event handler failed"/);
    assert.match(logged[0] ?? "", /subscriber bug/);
  }
});
