import { after, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, makeGenericClientConstructor, status as Code, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { SpecManagementServiceClient } from "../../gen/facade/manage/v1/manage.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { startSpecProvider } from "../../services/spec-provider/src/index.ts";
import { freePort, startProcess } from "../support/process.ts";
import { TestNatsServer } from "../support/nats.ts";
import { startTestSpecProvider } from "../support/spec-provider.ts";
import { EventCollector, failure, spec } from "./helpers.ts";

/** Operations: health, persistence across restarts, outages, bugs, shutdown. */

const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");

function healthStatus(health: InstanceType<typeof HealthClient>, service = ""): Promise<string> {
  return new Promise((resolve, reject) =>
    health.check!({ service }, (err: ServiceError | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))),
  );
}

test("the health service answers SERVING for the server and both services", async () => {
  const sp = await startTestSpecProvider();
  const health = new HealthClient(sp.address, credentials.createInsecure());
  try {
    for (const service of ["", "registryfacade.SpecProvider", "facade.manage.v1.SpecManagementService"]) {
      assert.equal(await healthStatus(health, service), "SERVING", `service ${JSON.stringify(service)}`);
    }
    const unknown = await failure(healthStatus(health, "nope"));
    assert.equal(unknown.code, Code.NOT_FOUND);
  } finally {
    health.close();
    await sp.stop();
  }
});

test("file store: specs and revisions survive a restart on the same directory", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-specs-restart-"));
  after(() => rm(dir, { recursive: true, force: true }));
  const first = await startTestSpecProvider({ dir });
  const kept = await first.put("ws-kept", { baseRef: "ubuntu:24.04", ideLayerRef: ["ghcr.io/acme/tool:1"] });
  const gone = await first.put("ws-gone", { baseRef: "alpine" });
  await unaryCall(first.client.deleteSpec.bind(first.client), { id: "ws-gone" });
  await first.stop();

  const second = await startTestSpecProvider({ dir });
  try {
    const { stored } = await unaryCall(second.client.getSpec.bind(second.client), { id: "ws-kept" });
    assert.deepEqual(stored?.spec, kept.spec);
    assert.equal(stored?.revision, kept.revision);
    assert.equal((await failure(unaryCall(second.client.getSpec.bind(second.client), { id: "ws-gone" }))).code, Code.NOT_FOUND);
    // The delete was the last write: its revision is not handed out again.
    const recreated = await second.put("ws-gone", { baseRef: "alpine" });
    assert.ok(recreated.revision > gone.revision + 1n, `${recreated.revision} after ${gone.revision} and its delete`);
  } finally {
    await second.stop();
  }
});

test("file store: a directory without its REVISION file continues above the highest stored revision", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-specs-norev-"));
  after(() => rm(dir, { recursive: true, force: true }));
  const first = await startTestSpecProvider({ dir });
  await first.put("ws-a", { baseRef: "alpine" });
  const high = await first.put("ws-a", { baseRef: "alpine:3" });
  await first.stop();
  await rm(join(dir, "REVISION"));

  const second = await startTestSpecProvider({ dir });
  try {
    assert.ok((await second.put("ws-a", { baseRef: "alpine:4" })).revision > high.revision);
  } finally {
    await second.stop();
  }
});

test("nats-kv store: specs survive a restart of both NATS and the spec-provider; an outage is UNAVAILABLE and NOT_SERVING", async () => {
  const nats = await TestNatsServer.start();
  after(() => nats.dispose());
  const first = await startTestSpecProvider({ nats: { servers: [nats.url] } });
  const kept = await first.put("ws-kept", { baseRef: "ubuntu:24.04" });
  await first.stop();
  await nats.restart();

  const sp = await startTestSpecProvider({ nats: { servers: [nats.url] } });
  try {
    const get = () => unaryCall(sp.client.getSpec.bind(sp.client), { id: "ws-kept" }, { deadline: Date.now() + 10_000 });
    assert.deepEqual((await get()).stored?.spec, kept.spec);

    const health = new HealthClient(sp.address, credentials.createInsecure());
    after(() => health.close());
    assert.equal(await healthStatus(health), "SERVING");

    await nats.stop();
    // The registry must tell "try again" from "no such workspace".
    await waitForCode(get, Code.UNAVAILABLE);
    assert.equal((await failure(sp.put("ws-new", { baseRef: "alpine" }))).code, Code.UNAVAILABLE);
    assert.equal(await healthStatus(health), "NOT_SERVING");
    await nats.restart();
    await waitForCode(get, Code.OK);
    assert.equal((await sp.put("ws-new", { baseRef: "alpine" })).id, "ws-new");
    assert.equal(await healthStatus(health), "SERVING");
  } finally {
    await sp.stop();
  }
});

test("a nats-kv spec-provider whose NATS cannot be reached does not start, and says why", async () => {
  const port = await freePort();
  const config = parseConfig({ specProvider: { port: 0, store: { type: "nats-kv" } }, nats: { servers: [`nats://127.0.0.1:${port}`] } });
  await assert.rejects(startSpecProvider(config, createLogger({ level: "silent", service: "test" })), /cannot connect to NATS at nats:\/\/127\.0\.0\.1/);
});

test("a handler that fails unexpectedly answers INTERNAL without a stack, and the server keeps serving", async () => {
  const sp = await startTestSpecProvider();
  try {
    await sp.put("ws-ok", { baseRef: "alpine" });
    // A corrupt record makes the store throw a plain error: a bug, not a refusal.
    await writeFile(join(sp.dir!, "ws-broken.json"), "{ not json");
    const result = await failure(unaryCall(sp.client.getSpec.bind(sp.client), { id: "ws-broken" }));
    assert.equal(result.code, Code.INTERNAL);
    assert.equal(result.message, "internal error");
    assert.equal((await unaryCall(sp.client.getSpec.bind(sp.client), { id: "ws-ok" })).stored?.id, "ws-ok");
  } finally {
    await sp.stop();
  }
});

test("stop ends open watch streams with UNAVAILABLE and completes", async () => {
  const sp = await startTestSpecProvider();
  const watch = new EventCollector(sp.client.watchSpecs({ includeInitial: true }));
  await watch.waitFor(1);
  await sp.put("ws-1", { baseRef: "alpine" });
  await watch.waitFor(2);
  const started = Date.now();
  await sp.stop();
  assert.ok(Date.now() - started < 5000, "stop did not wait for the stream");
  await waitUntilTrue(() => watch.error !== undefined);
  assert.equal(watch.error?.code, Code.UNAVAILABLE);
});

test("stop lets a call in flight finish (the store stays open for it) and refuses new calls", async () => {
  // Our own nats-server, so the test can freeze it: a GetSpec then waits on
  // NATS inside the spec-provider, a call really in flight.
  const dataDir = await mkdtemp(join(tmpdir(), "facade-nats-frozen-"));
  const port = await freePort();
  const nats = startProcess("nats-server", "nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dataDir]);
  after(async () => {
    nats.child.kill("SIGCONT");
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const sp = await waitForStart(() => startTestSpecProvider({ nats: { servers: [`nats://127.0.0.1:${port}`] } }));
  await sp.put("ws-1", { baseRef: "alpine" });

  nats.child.kill("SIGSTOP");
  const inFlight = unaryCall(sp.client.getSpec.bind(sp.client), { id: "ws-1" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  let stopped = false;
  const stopping = sp.stop().then(() => (stopped = true));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(stopped, false, "stop waits for the call in flight");
  const late = new SpecManagementServiceClient(sp.address, credentials.createInsecure());
  assert.equal((await failure(unaryCall(late.getSpec.bind(late), { id: "ws-1" }))).code, Code.UNAVAILABLE, "no new calls once stopping");
  late.close();

  nats.child.kill("SIGCONT");
  assert.equal((await inFlight).stored?.spec?.baseRef, "alpine");
  await stopping;
});

test("the spec in a put reaches GetImageSpec of a second provider on the same NATS bucket (replicas share state)", async () => {
  const nats = await TestNatsServer.start();
  after(() => nats.dispose());
  const a = await startTestSpecProvider({ nats: { servers: [nats.url] } });
  const b = await startTestSpecProvider({ nats: { servers: [nats.url] } });
  try {
    const watch = new EventCollector(b.client.watchSpecs({ includeInitial: true }));
    const stored = await a.put("ws-shared", { ...spec(), baseRef: "debian:12" });
    const { spec: seen } = await unaryCall(b.specProviderClient.getImageSpec.bind(b.specProviderClient), { id: "ws-shared" });
    assert.deepEqual(seen, stored.spec);
    // Before or after the mark, depending on whether the watch was live yet.
    await watch.waitFor(2);
    assert.equal(watch.events.find((e) => e.id === "ws-shared")?.revision, stored.revision);
    await watch.cancel();
  } finally {
    await a.stop();
    await b.stop();
  }
});

/** Retries a start until nats-server accepts connections. */
async function waitForStart<T>(start: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await start();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function waitForCode(call: () => Promise<unknown>, code: Code, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Code | undefined;
  for (;;) {
    try {
      await call();
      last = Code.OK;
    } catch (err) {
      last = (err as ServiceError).code;
    }
    if (last === code) return;
    if (Date.now() > deadline) assert.fail(`still ${Code[last]} after ${timeoutMs} ms, waiting for ${Code[code]}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitUntilTrue(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
