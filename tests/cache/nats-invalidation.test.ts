import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { DeleteSpecRequest } from "../../gen/facade/manage/v1/manage.ts";
import { startRegistry, type RunningRegistry } from "../../services/registry/src/index.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { TestNatsServer } from "../support/nats.ts";
import { waitUntil } from "../support/process.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { createWorld, type World } from "../registry/fixture.ts";

/**
 * Two registry replicas, a spec-provider on a NATS key-value store and a real
 * nats-server: a spec change reaches both replicas' caches through NATS
 * events, not through a TTL (theirs is ten minutes here).
 */
let world: World;
let nats: TestNatsServer;
let provider: TestSpecProvider;
const replicas: RunningRegistry[] = [];

before(async () => {
  world = await createWorld();
  nats = await TestNatsServer.start();
  provider = await startTestSpecProvider({ nats: { servers: [nats.url] } });
  for (const name of ["a", "b"]) {
    const config = parseConfig({
      nats: { servers: [nats.url] },
      registry: {
        port: 0,
        store: await mkdtemp(join(world.dir, `replica-${name}-`)),
        remoteSpecProvider: [{ addr: provider.address }],
        specProviderTimeoutMs: 1000,
        // Ten minutes either way: only an event (or the drop on reconnect) can change what a replica serves.
        specCacheTtlMs: 600_000,
        specCacheTtlWithoutEventsMs: 600_000,
      },
    });
    replicas.push(await startRegistry(config, createLogger({ level: "silent", service: `replica-${name}` })));
  }
});
after(async () => {
  for (const r of replicas) await r.stop();
  await provider?.stop();
  await nats?.dispose();
  await world?.dispose();
});

const spec = (ideRef: string | undefined) => ImageSpec.fromJSON({ baseRef: world.refs["baseOci"], ...(ideRef ? { ideRef } : {}) });

/** Manifest by tag through one replica: status and digest. */
async function pull(r: RunningRegistry, id: string): Promise<{ status: number; digest: string | null; layers: number }> {
  const res = await fetch(`http://127.0.0.1:${r.port}/v2/remote/${id}/manifests/latest`);
  const body = (await res.json()) as { layers?: unknown[] };
  return { status: res.status, digest: res.headers.get("docker-content-digest"), layers: body.layers?.length ?? 0 };
}

/** Polls until every replica answers as wanted; returns how long that took. */
async function untilBoth(what: string, check: (p: Awaited<ReturnType<typeof pull>>) => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const answers = await Promise.all(replicas.map((r) => pull(r, "ws-nats")));
    if (answers.every(check)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) assert.fail(`${what}: ${JSON.stringify(answers)}`);
    await sleep(20);
  }
}

test("a spec change reaches both replicas within a second; a delete makes both 404; NATS down keeps them serving; back up, events flow again", async (t) => {
  await provider.put("ws-nats", spec(world.refs["ide"]));
  const [a, b] = await Promise.all(replicas.map((r) => pull(r, "ws-nats")));
  assert.equal(a?.status, 200);
  assert.equal(a?.digest, b?.digest, "both replicas compose alike");
  const first = a?.digest;

  // A new IDE image: both serve the new composition, well before any TTL.
  await provider.put("ws-nats", spec(world.refs["ideLayer"]));
  const changedMs = await untilBoth("new composition", (p) => p.status === 200 && p.digest !== first, 1000);
  const [changed] = await Promise.all(replicas.map((r) => pull(r, "ws-nats")));

  await unaryCall(provider.client.deleteSpec.bind(provider.client), DeleteSpecRequest.fromPartial({ id: "ws-nats" }));
  const deletedMs = await untilBoth("404 after delete", (p) => p.status === 404, 1000);

  await provider.put("ws-nats", spec(world.refs["ide"]));
  await untilBoth("back after a put", (p) => p.status === 200 && p.digest === first, 1000);
  // A pull that raced with the event was answered but not cached; this one is.
  await untilBoth("cached again", (p) => p.status === 200 && p.digest === first, 1000);

  // NATS down: the spec-provider's store is gone too, the replicas keep serving from their caches.
  await nats.stop();
  for (const r of replicas) {
    const p = await pull(r, "ws-nats");
    assert.equal(p.status, 200, "served from the cache while NATS is down");
    assert.equal(p.digest, first);
  }

  await nats.restart();
  // The spec-provider's store reconnects; then a change reaches both replicas by events again.
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await provider.put("ws-nats", spec(world.refs["ideLayer"]));
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
  // Seen through the drop on reconnect or the event: either way both replicas are connected again.
  await untilBoth("change after the restart", (p) => p.status === 200 && p.digest === changed?.digest, 10_000);
  await provider.put("ws-nats", spec(world.refs["ide"]));
  const afterRestartMs = await untilBoth("events flow after the restart", (p) => p.status === 200 && p.digest === first, 1000);
  t.diagnostic(`spec change seen by both replicas after ${Math.round(changedMs)} ms, delete after ${Math.round(deletedMs)} ms, change after a NATS restart after ${Math.round(afterRestartMs)} ms`);
});

test("a registry starts and serves while NATS is down; once NATS is up, events reach it", async (t) => {
  const down = await TestNatsServer.start();
  await down.stop();
  const registryConfig = parseConfig({
    nats: { servers: [down.url] },
    // Without events every pull asks the spec-provider; once connected, only an event drops a spec.
    registry: { port: 0, store: await mkdtemp(join(world.dir, "replica-late-")), remoteSpecProvider: [{ addr: provider.address }], specCacheTtlMs: 600_000, specCacheTtlWithoutEventsMs: 0 },
  });
  const started = performance.now();
  const late = await startRegistry(registryConfig, createLogger({ level: "silent", service: "replica-late" }));
  try {
    t.diagnostic(`started in ${Math.round(performance.now() - started)} ms with NATS down`);
    await provider.put("ws-late", spec(undefined));
    const before = await pull(late, "ws-late");
    assert.equal(before.status, 200, "serves without NATS");

    // NATS comes up: the registry connects; a spec-provider on that NATS will tell it of changes.
    await down.restart();
    const publisher = await startTestSpecProvider({ nats: { servers: [down.url] } });
    try {
      // Its own spec-provider publishes on the other NATS, so the registry hears nothing of
      // its changes: while not connected (TTL 0) it sees each at once, once connected
      // (TTL ten minutes) it keeps serving what it cached. Wait for that.
      let cached: string | null = null;
      const deadline = Date.now() + 10_000;
      while (cached === null) {
        await provider.put("ws-late", spec(undefined));
        const first = (await pull(late, "ws-late")).digest;
        await provider.put("ws-late", spec(world.refs["ide"]));
        if ((await pull(late, "ws-late")).digest === first) cached = first;
        else await sleep(100);
        assert.ok(Date.now() < deadline, "the registry never connected to NATS");
      }
      // A third spec, unseen by the registry; then a put on the late NATS: its event drops
      // the cached spec and the next pull composes the third one.
      await provider.put("ws-late", spec(world.refs["ideLayer"]));
      assert.equal((await pull(late, "ws-late")).digest, cached, "no event yet, still cached");
      await publisher.put("ws-late", spec(world.refs["ideLayer"]));
      await waitUntil("the event reached the late registry", async () => (await pull(late, "ws-late")).digest !== cached, { timeoutMs: 1000 });
    } finally {
      await publisher.stop();
    }
  } finally {
    await late.stop();
    await down.dispose();
  }
});
