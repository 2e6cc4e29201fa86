import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { SpecProviderService, type SpecProviderServer } from "../../gen/registryfacade/provider.ts";
import { startRegistry } from "../../services/registry/src/index.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { TestNatsServer } from "../support/nats.ts";
import { waitUntil } from "../support/process.ts";
import { startService } from "../support/services.ts";

test("readiness: a spec-provider without grpc.health.v1 still counts; a store that takes no write does not", async () => {
  // Another implementation of Gitpod's SpecProvider API, without the health service.
  const bare = new Server();
  const notFound: SpecProviderServer = { getImageSpec: (_call, callback) => callback({ code: status.NOT_FOUND, details: "no such workspace" }) };
  bare.addService(SpecProviderService, notFound);
  const port = await new Promise<number>((resolve, reject) => bare.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const dir = await mkdtemp(join(tmpdir(), "facade-ready-"));
  const config = parseConfig({ registry: { port: 0, store: join(dir, "store"), remoteSpecProvider: [{ addr: `127.0.0.1:${port}` }] } });
  const registry = await startRegistry(config, createLogger({ level: "silent", service: "registry" }));
  try {
    // The first check also dials the spec-provider, within the check's 800 ms deadline; on a
    // loaded machine the dial alone can take longer. A kubelet asks again; so does the test.
    let answer = await registry.ready();
    await waitUntil("a ready answer", async () => (answer = await registry.ready()).ready).catch(() => undefined);
    assert.deepEqual(answer, { ready: true, checks: { store: "ok", specProvider: "ok" } });
    // Where the store writes its temporary files, a file: as root, permissions would not stop a write.
    await rm(join(dir, "store", "tmp"), { recursive: true });
    await writeFile(join(dir, "store", "tmp"), "");
    const broken = await registry.ready();
    assert.equal(broken.ready, false);
    assert.match(broken.checks["store"] ?? "", /^store not writable: ENOTDIR/);
  } finally {
    await registry.stop();
    bare.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the spec-provider's /ready follows its NATS store down and back, like its gRPC health", async () => {
  const nats = await TestNatsServer.start();
  const provider = await startService("spec-provider", { nats: { servers: [nats.url] }, specProvider: { port: 0, store: { type: "nats-kv" } } });
  try {
    const ready = async () => (await fetch(`${provider.probeUrl}/ready`)).status;
    assert.equal(await ready(), 200);
    await nats.stop();
    await waitUntil("not ready while NATS is away", async () => (await ready()) === 503);
    assert.equal((await fetch(`${provider.probeUrl}/live`)).status, 200);
    await nats.restart();
    await waitUntil("ready again", async () => (await ready()) === 200, { timeoutMs: 20_000 });
  } finally {
    await provider.stop();
    await nats.dispose();
  }
});
