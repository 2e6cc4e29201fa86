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
        specCacheTtlMs: 600_000,
        specCacheTtlWithoutEventsMs: 500,
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

  // NATS down: the spec-provider's store is gone too, the replicas keep serving from their caches.
  await nats.stop();
  await sleep(800); // past specCacheTtlWithoutEventsMs
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
  await untilBoth("change after the restart", (p) => p.status === 200 && p.digest === changed?.digest, 5000);
  // Both replicas hold the spec again, for ten minutes: only an event can change that within a second.
  await provider.put("ws-nats", spec(world.refs["ide"]));
  const afterRestartMs = await untilBoth("events flow after the restart", (p) => p.status === 200 && p.digest === first, 1000);
  t.diagnostic(`spec change seen by both replicas after ${Math.round(changedMs)} ms, delete after ${Math.round(deletedMs)} ms, change after a NATS restart after ${Math.round(afterRestartMs)} ms`);
});
