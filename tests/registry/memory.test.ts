import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { pushBigLayer } from "../support/big-layer.ts";
import { image } from "../support/images.ts";
import { rssKiB, startProcess, waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

const LAYER_FILE_BYTES = 512 * 1024 * 1024;

test("a 512 MiB layer streams through the registry while its resident memory stays flat", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "facade-memory-"));
  const upstream = await UpstreamRegistry.start();
  try {
    const big = await pushBigLayer(upstream, "big", LAYER_FILE_BYTES);
    const built = image({ family: "oci", layers: [big] });
    await upstream.pushBlob("big", built.configDigest, built.config);
    await upstream.pushManifest("big", "1", built.manifest, built.mediaType);

    const specFile = join(dir, "specs.json");
    await writeFile(specFile, JSON.stringify({ big: { baseRef: `${upstream.host}/big:1` } }));
    const configFile = join(dir, "config.json");
    await writeFile(configFile, JSON.stringify({ logLevel: "info", registry: { port: 0, store: join(dir, "store"), fixedSpecFN: specFile } }));

    // The registry as its own process, so its RSS is its own.
    const registry = startProcess("registry", process.execPath, ["--import", "tsx", "services/registry/bin.ts", "--config", configFile]);
    try {
      let port = 0;
      await waitUntil("registry listening", async () => {
        const line = registry.log.split("\n").find((l) => l.includes('"registry listening"'));
        if (line) port = (JSON.parse(line) as { port: number }).port;
        return port > 0;
      }, { process: registry });
      const pid = registry.child.pid as number;
      const base = `http://127.0.0.1:${port}/v2/fixed/big`;

      const manifestRes = await request(`${base}/manifests/latest`);
      assert.equal(manifestRes.statusCode, 200);
      const manifest = (await manifestRes.body.json()) as { layers: Array<{ digest: string; size: number }> };
      assert.equal(manifest.layers[0]?.digest, big.digest);

      // Warm-up: a small blob request, then settle, so the baseline includes the code paths used.
      await (await request(`${base}/blobs/${built.configDigest}`)).body.dump();
      await sleep(300);
      const baseline = await rssKiB(pid);

      /** One full pull of the blob while VmRSS is sampled every 50 ms. */
      const pull = async (pauseMs: number) => {
        const samples: number[] = [];
        let sampling = true;
        const sampler = (async () => {
          while (sampling) {
            samples.push(await rssKiB(pid));
            await sleep(50);
          }
        })();
        const started = Date.now();
        const res = await request(`${base}/blobs/${big.digest}`);
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers["content-length"], String(big.size));
        const hash = createHash("sha256");
        let received = 0;
        let paused = pauseMs === 0;
        for await (const chunk of res.body) {
          hash.update(chunk as Buffer);
          received += (chunk as Buffer).length;
          if (!paused && received > 128 * 1024 * 1024) {
            // A client that stops reading for a while: with backpressure the
            // registry stops reading upstream too instead of buffering.
            paused = true;
            await sleep(pauseMs);
          }
        }
        const seconds = (Date.now() - started) / 1000;
        sampling = false;
        await sampler;
        assert.equal(received, big.size);
        assert.equal(`sha256:${hash.digest("hex")}`, big.digest);
        return { samples, seconds };
      };

      const first = await pull(1500);
      const second = await pull(0);
      const mib = (kib: number) => (kib / 1024).toFixed(1);
      const peak1 = Math.max(...first.samples);
      const peak2 = Math.max(...second.samples);
      const report = `512 MiB layer pulled twice (${first.seconds.toFixed(1)} s with a 1.5 s reader stall, ${second.seconds.toFixed(1)} s); registry VmRSS baseline ${mib(baseline)} MiB, peak ${mib(peak1)} MiB (+${mib(peak1 - baseline)}) in the first pull, ${mib(peak2)} MiB in the second`;
      t.diagnostic(report);
      t.diagnostic(`VmRSS samples, first pull (MiB, every 50 ms): ${first.samples.map((s) => Math.round(s / 1024)).join(" ")}`);
      t.diagnostic(`VmRSS samples, second pull: ${second.samples.map((s) => Math.round(s / 1024)).join(" ")}`);
      assert.ok(first.samples.length >= 10 && second.samples.length >= 5, "enough samples");
      // Bounded: far below the 512 MiB that buffering would cost. The margin
      // covers warm-up (socket, file and cache buffers) and garbage that the
      // collector frees late on a loaded machine.
      assert.ok(peak1 - baseline < 96 * 1024, report);
      // Flat, not growing with the bytes sent: once warm (after the first
      // quarter), the typical RSS of the last quarter of the transfer is no
      // higher than that of the second. Single samples swing up and down with
      // garbage collection; medians of a quarter do not.
      const quarter = Math.floor(first.samples.length / 4);
      const early = median(first.samples.slice(quarter, 2 * quarter));
      const late = median(first.samples.slice(3 * quarter));
      assert.ok(late - early < 16 * 1024, `RSS grew ${mib(late - early)} MiB (median) between the second and the last quarter of the transfer`);
      assert.ok(peak2 - peak1 < 16 * 1024, `second pull peaked ${mib(peak2 - peak1)} MiB above the first`);

      // SIGTERM: bin.ts stops gracefully and exits 0 well within the grace period.
      const stopping = Date.now();
      await registry.stop();
      assert.equal(await registry.exited, 0, registry.log.slice(-2000));
      assert.ok(Date.now() - stopping < 4000);
    } finally {
      await registry.stop();
    }
  } finally {
    await upstream.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
