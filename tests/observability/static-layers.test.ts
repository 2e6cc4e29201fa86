import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer } from "../support/images.ts";
import { freePort, waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { startService } from "../support/services.ts";

/** Forwards a loopback port to the upstream: the static layers' registry, which the test can leave down. */
async function forward(port: number, to: number) {
  const server = createServer((client) => {
    const upstream = connect(to, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

test("a static layer registry that is down at start-up makes the registry unready, not dead; static layers follow the configuration file", async () => {
  const upstream = await UpstreamRegistry.start();
  const dir = await mkdtemp(join(tmpdir(), "facade-static-"));
  const staticPort = await freePort();
  let forwarder: { close(): Promise<void> } | undefined;
  try {
    const baseRef = await upstream.pushImage("base", "1", image({ family: "oci", layers: [await layer([{ path: "base.txt", content: "base\n" }])] }));
    const first = image({ family: "oci", layers: [await layer([{ path: "static1.txt", content: "one\n" }])] });
    const second = image({ family: "oci", layers: [await layer([{ path: "static2.txt", content: "two\n" }])] });
    await upstream.pushImage("static", "1", first);
    await upstream.pushImage("static", "2", second);
    const specFile = join(dir, "specs.json");
    await writeFile(specFile, JSON.stringify({ ws: { baseRef } }));
    const registryConfig = (staticLayer: unknown[]) => ({ registry: { port: 0, store: join(dir, "store"), fixedSpecFN: specFile, staticLayer } });
    const staticOne = { ref: `127.0.0.1:${staticPort}/static:1`, type: "image" };
    const registry = await startService("registry", registryConfig([staticOne]));
    try {
      const ready = async () => {
        const res = await fetch(`${registry.probeUrl}/ready`);
        return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
      };
      const down = await ready();
      assert.equal(down.status, 503);
      assert.match(down.body.checks["staticLayers"] ?? "", new RegExp(`^static layer images not resolvable \\(127\\.0\\.0\\.1:${staticPort}/static:1: upstream unreachable`));
      assert.equal((await fetch(`${registry.probeUrl}/live`)).status, 200);

      forwarder = await forward(staticPort, upstream.port);
      await waitUntil("ready once the static layer's registry is up", async () => (await ready()).status === 200);

      const manifestUrl = `http://127.0.0.1:${registry.port}/v2/fixed/ws/manifests/latest`;
      const layersOf = async () => {
        const res = await fetch(manifestUrl);
        assert.equal(res.status, 200);
        return { digest: res.headers.get("docker-content-digest"), layers: ((await res.json()) as { layers: Array<{ digest: string }> }).layers.map((l) => l.digest) };
      };
      const before = await layersOf();
      assert.deepEqual(before.layers.slice(1), [first.layers[0]?.digest]);

      // The operator adds a static layer to the file: the next composition has it, without a restart.
      await registry.rewriteConfig(registryConfig([staticOne, { ref: `127.0.0.1:${staticPort}/static:2`, type: "image" }]));
      await waitUntil("the reload logged", async () => registry.logLines().some((l) => l["msg"] === "static layers reloaded"), { timeoutMs: 10_000 });
      const after = await layersOf();
      assert.deepEqual(after.layers.slice(1), [first.layers[0]?.digest, second.layers[0]?.digest]);

      // What was composed before the reload stays servable: the manifest by digest and its blobs.
      const old = await fetch(`http://127.0.0.1:${registry.port}/v2/fixed/ws/manifests/${before.digest}`);
      assert.equal(old.status, 200);
      await old.arrayBuffer();
      for (const digest of before.layers) {
        const blob = await fetch(`http://127.0.0.1:${registry.port}/v2/fixed/ws/blobs/${digest}`);
        assert.equal(blob.status, 200, digest);
        await blob.arrayBuffer();
      }

      // A broken edit changes nothing and says why.
      await registry.rewriteConfig({ registry: { staticLayer: [{ ref: "x", type: "dir" }] } });
      await waitUntil("the refusal logged", async () => registry.logLines().some((l) => l["msg"] === "reload failed; keeping the last good version" && String(l["reason"]).includes("registry.staticLayer.0.type")), { timeoutMs: 10_000 });
      assert.deepEqual((await layersOf()).layers, after.layers);
    } finally {
      await registry.stop();
    }
  } finally {
    await forwarder?.close();
    await upstream.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
