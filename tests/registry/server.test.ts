import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { startRegistry } from "../../services/registry/src/index.ts";
import { run } from "../support/oci-clients.ts";

const logger = createLogger({ level: "silent", service: "registry-test" });

test("with registry.tls the registry serves HTTPS with that certificate", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-tls-"));
  try {
    const crt = join(dir, "tls.crt");
    const key = join(dir, "tls.key");
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"]);
    const registry = await startRegistry(parseConfig({ registry: { port: 0, store: join(dir, "store"), tls: { crt, key } } }), logger);
    try {
      const agent = new Agent({ connect: { ca: await readFile(crt) } });
      const res = await request(`https://127.0.0.1:${registry.port}/v2/`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(await res.body.json(), {});
      await agent.close();
      await assert.rejects(request(`http://127.0.0.1:${registry.port}/v2/`, { headersTimeout: 2000 }), "plain HTTP is not served");
    } finally {
      await registry.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("requireAuth with no source of credentials refuses to start rather than serve nobody", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-auth-"));
  try {
    await assert.rejects(startRegistry(parseConfig({ registry: { port: 0, store: join(dir, "store"), requireAuth: true } }), logger), /requireAuth needs registry.htpasswd or registry.workspaceSecretFile/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a static file layer that cannot be read stops start-up with its path", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-static-"));
  try {
    const missing = join(dir, "missing.tar.gz");
    await assert.rejects(startRegistry(parseConfig({ registry: { port: 0, store: join(dir, "store"), staticLayer: [{ ref: missing, type: "file" }] } }), logger), (err: Error) => err.message.includes(missing));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("stop() is graceful and idempotent; the port is free afterwards", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-stop-"));
  try {
    const config = parseConfig({ registry: { port: 0, store: join(dir, "store") } });
    const registry = await startRegistry(config, logger);
    const res = await request(`http://127.0.0.1:${registry.port}/v2/`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    await Promise.all([registry.stop(), registry.stop()]);
    await assert.rejects(request(`http://127.0.0.1:${registry.port}/v2/`));
    const again = await startRegistry(parseConfig({ registry: { port: registry.port, store: join(dir, "store") } }), logger);
    assert.equal(again.port, registry.port);
    await again.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
