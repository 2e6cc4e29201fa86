import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { pushBigLayer } from "../support/big-layer.ts";
import { image, type Layer } from "../support/images.ts";
import { canConnect } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { startService } from "../support/services.ts";

/** SIGTERM while a runtime downloads a 256 MiB layer: the download completes, then the process exits 0. */
let dir: string;
let upstream: UpstreamRegistry;
let big: Layer;
let specFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-shutdown-"));
  upstream = await UpstreamRegistry.start();
  big = await pushBigLayer(upstream, "big", 256 * 1024 * 1024);
  const built = image({ family: "oci", layers: [big] });
  await upstream.pushBlob("big", built.configDigest, built.config);
  await upstream.pushManifest("big", "1", built.manifest, built.mediaType);
  specFile = join(dir, "specs.json");
  await writeFile(specFile, JSON.stringify({ big: { baseRef: `${upstream.host}/big:1` } }));
});
after(async () => {
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function startRegistry(name: string, shutdownGraceMs: number) {
  const registry = await startService("registry", { shutdownGraceMs, registry: { port: 0, store: join(dir, name), fixedSpecFN: specFile } });
  const base = `http://127.0.0.1:${registry.port}/v2/fixed/big`;
  const manifest = await request(`${base}/manifests/latest`);
  assert.equal(manifest.statusCode, 200);
  await manifest.body.dump();
  return { registry, blobUrl: `${base}/blobs/${big.digest}` };
}

test("a blob download in flight at SIGTERM completes, a second SIGTERM notwithstanding; meanwhile the registry is unready and takes no new connections; then it exits 0", async () => {
  const { registry, blobUrl } = await startRegistry("drain", 60_000);
  try {
    const res = await request(blobUrl);
    assert.equal(res.statusCode, 200);
    const hash = createHash("sha256");
    let received = 0;
    let signalled = false;
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      received += (chunk as Buffer).length;
      if (!signalled && received > 32 * 1024 * 1024) {
        signalled = true;
        registry.process.child.kill("SIGTERM");
        // A slow reader: the transfer is still going a while after the signal.
        await sleep(1000);
        assert.ok(registry.process.running, "still running while the download is unfinished");
        // An impatient second signal changes nothing.
        registry.process.child.kill("SIGTERM");
        assert.equal((await fetch(`${registry.probeUrl}/ready`)).status, 503, "unready while draining");
        assert.equal(await canConnect(registry.port), false, "no new connections while draining");
      }
    }
    assert.equal(received, big.size);
    assert.equal(`sha256:${hash.digest("hex")}`, big.digest);
    assert.equal(await registry.process.exited, 0, registry.process.log.slice(-2000));
    const lines = registry.logLines();
    assert.ok(lines.some((l) => l["msg"] === "request" && l["bytes"] === big.size && l["complete"] === true), "the access log has the whole transfer");
    assert.ok(lines.some((l) => l["msg"] === "registry stopped"));
  } finally {
    await registry.stop();
  }
});

test("a download still running when shutdownGraceMs is over is cut, and the process still exits 0", async () => {
  const { registry, blobUrl } = await startRegistry("deadline", 500);
  try {
    const res = await request(blobUrl);
    assert.equal(res.statusCode, 200);
    const reader = res.body[Symbol.asyncIterator]();
    await reader.next();
    const signalled = Date.now();
    registry.process.child.kill("SIGTERM");
    // The reader stalls: nothing but the deadline can end this transfer.
    assert.equal(await registry.process.exited, 0, registry.process.log.slice(-2000));
    assert.ok(Date.now() - signalled < 5000, "stopped soon after the deadline");
    assert.ok(registry.logLines().some((l) => l["msg"] === "requests still running after the grace period; closing their connections"));
    res.body.destroy();
  } finally {
    await registry.stop();
  }
});
