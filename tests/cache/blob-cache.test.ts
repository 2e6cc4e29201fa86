import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { pushBigLayer } from "../support/big-layer.ts";
import { CorruptingProxy } from "../support/corrupting-proxy.ts";
import { image, sha256, type Layer } from "../support/images.ts";
import { waitUntil } from "../support/process.ts";
import { startService, type ServiceProcess } from "../support/services.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/**
 * The blob cache through real parts: a docker-registry behind a counting (and,
 * when asked, slow or corrupting) proxy, the registry as a process of its own.
 */
const MiB = 1024 * 1024;
let dir: string;
let upstream: UpstreamRegistry;
let proxy: CorruptingProxy;
let big: Layer;
let medium: Layer;
let small: Layer[];

/** A layer of random bytes: the registry never looks inside a blob. */
function randomLayer(size: number): Layer {
  const blob = randomBytes(size);
  const digest = sha256(blob);
  return { blob, digest, diffId: digest, size, gzip: false };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-cache-"));
  upstream = await UpstreamRegistry.start();
  proxy = await CorruptingProxy.start(upstream.host);
  big = await pushBigLayer(upstream, "big", 256 * MiB);
  const bigImage = image({ family: "oci", layers: [big] });
  await upstream.pushBlob("big", bigImage.configDigest, bigImage.config);
  await upstream.pushManifest("big", "1", bigImage.manifest, bigImage.mediaType);
  medium = randomLayer(8 * MiB);
  small = Array.from({ length: 8 }, () => randomLayer(MiB));
  await upstream.pushImage("medium", "1", image({ family: "oci", layers: [medium] }));
  await upstream.pushImage("small", "1", image({ family: "oci", layers: small }));
  await writeFile(
    join(dir, "specs.json"),
    JSON.stringify({ big: { baseRef: `${proxy.host}/big:1` }, medium: { baseRef: `${proxy.host}/medium:1` }, small: { baseRef: `${proxy.host}/small:1` } }),
  );
});
after(async () => {
  await proxy?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A registry process with its own store (or the given one) reading the test's spec file. */
async function registry(store: string, extra: Record<string, unknown> = {}): Promise<ServiceProcess> {
  return startService("registry", { registry: { port: 0, store, fixedSpecFN: join(dir, "specs.json"), ...extra } });
}

/** GETs of a blob that reached the upstream (through the proxy). */
const upstreamGets = (digest: string) => proxy.requests.filter((r) => r.startsWith("GET ") && r.endsWith(`/blobs/${digest}`)).length;

interface Pull {
  status: number;
  digest: string;
  bytes: number;
  complete: boolean;
  firstByteAt: number;
  endAt: number;
}

/** A blob GET hashed as it arrives; leaveAfter makes the client go away after that many bytes. */
function pull(url: string, options: { leaveAfter?: number; onBytes?: (received: number) => void } = {}): Promise<Pull> {
  return new Promise((resolve) => {
    const hash = createHash("sha256");
    const result: Pull = { status: 0, digest: "", bytes: 0, complete: false, firstByteAt: 0, endAt: 0 };
    let finished = false;
    const finish = (complete: boolean) => {
      if (finished) return;
      finished = true;
      result.complete = complete;
      result.endAt = performance.now();
      result.digest = `sha256:${hash.digest("hex")}`;
      resolve(result);
    };
    const req = httpRequest(url, (res) => {
      result.status = res.statusCode ?? 0;
      res.on("data", (chunk: Buffer) => {
        if (result.bytes === 0) result.firstByteAt = performance.now();
        hash.update(chunk);
        result.bytes += chunk.length;
        options.onBytes?.(result.bytes);
        if (options.leaveAfter !== undefined && result.bytes >= options.leaveAfter) {
          req.destroy();
          finish(false);
        }
      });
      res.on("end", () => finish(res.complete));
      res.on("error", () => finish(false));
      res.on("close", () => finish(res.complete));
    });
    req.on("error", () => finish(false));
    req.end();
  });
}

async function manifestOk(host: string, name: string): Promise<void> {
  const res = await request(`http://${host}/v2/fixed/${name}/manifests/latest`);
  assert.equal(res.statusCode, 200, await res.body.text());
  await res.body.dump();
}

/** utime + stime of a process, in seconds (from /proc; clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const sub of ["sha256", "tmp"]) {
    for (const name of await readdir(join(path, sub)).catch(() => [] as string[])) total += (await stat(join(path, sub, name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

test("50 concurrent cold GETs of a 256 MiB blob share one upstream GET; late joiners start before the first client ends", async (t) => {
  const store = join(dir, "store-concurrent");
  const r = await registry(store);
  try {
    await manifestOk(r.host, "big");
    const url = `http://${r.host}/v2/fixed/big/blobs/${big.digest}`;
    const before = upstreamGets(big.digest);
    // A 256 MiB/s upstream: the fetch takes about a second, so the joiners really join it.
    proxy.bytesPerSecond = 256 * MiB;
    const cpuBefore = await cpuSeconds(r.process.child.pid as number);
    const testCpuBefore = process.cpuUsage();
    const started = performance.now();
    let launchJoiners!: () => void;
    const joinersLaunched = new Promise<void>((resolve) => (launchJoiners = resolve));
    const first = pull(url, { onBytes: (n) => n >= 16 * MiB && launchJoiners() });
    await joinersLaunched;
    const joinedAt = performance.now();
    // One more client goes away after 4 MiB: the others must not notice.
    const leaver = pull(url, { leaveAfter: 4 * MiB });
    const joiners = Array.from({ length: 49 }, () => pull(url));
    const results = [await first, ...(await Promise.all(joiners))];
    await leaver;
    proxy.bytesPerSecond = undefined;
    const registryCpu = (await cpuSeconds(r.process.child.pid as number)) - cpuBefore;
    const testCpu = process.cpuUsage(testCpuBefore);
    t.diagnostic(`CPU: registry ${registryCpu.toFixed(1)} s, test clients ${((testCpu.user + testCpu.system) / 1e6).toFixed(1)} s`);

    for (const res of results) {
      assert.equal(res.status, 200);
      assert.ok(res.complete);
      assert.equal(res.bytes, big.size);
      assert.equal(res.digest, big.digest);
    }
    assert.equal(upstreamGets(big.digest) - before, 1, "exactly one upstream GET of the blob");
    const firstDone = (results[0] as Pull).endAt;
    const lateFirstBytes = results.slice(1).map((res) => res.firstByteAt - joinedAt);
    for (const res of results.slice(1)) assert.ok(res.firstByteAt < firstDone, "a late joiner received bytes before the first client finished");
    const ms = (n: number) => `${Math.round(n)} ms`;
    t.diagnostic(
      `50 clients x 256 MiB: 1 upstream GET; first client ${ms(firstDone - started)}; joiners launched at ${ms(joinedAt - started)}, their first byte after ${ms(Math.min(...lateFirstBytes))}..${ms(Math.max(...lateFirstBytes))}; all done after ${ms(Math.max(...results.map((x) => x.endAt)) - started)}`,
    );

    // Once committed (synced and renamed, just after the last byte went out):
    // ranges come from the cache, and nothing reaches the upstream.
    await waitUntil("committed", async () => (await readdir(join(store, "cache", "sha256"))).includes(big.digest.slice(7)));
    const range = await request(url, { headers: { range: "bytes=1000-1999" } });
    assert.equal(range.statusCode, 206);
    const direct = await request(`${upstream.url}/v2/big/blobs/${big.digest}`, { headers: { range: "bytes=1000-1999" } });
    assert.deepEqual(Buffer.from(await range.body.arrayBuffer()), Buffer.from(await direct.body.arrayBuffer()));
    const again = await pull(url);
    assert.equal(again.digest, big.digest);
    assert.equal(upstreamGets(big.digest) - before, 1, "ranges and later GETs come from the cache");
    assert.equal((await stat(join(store, "cache", "sha256", big.digest.slice(7)))).size, big.size);
  } finally {
    proxy.bytesPerSecond = undefined;
    await r.stop();
  }
});

test("killed while caching: after a restart the partial file is gone and the blob is served whole", async () => {
  const store = join(dir, "store-kill");
  const r = await registry(store);
  const url = (host: string) => `http://${host}/v2/fixed/big/blobs/${big.digest}`;
  try {
    await manifestOk(r.host, "big");
    proxy.bytesPerSecond = 32 * MiB;
    const cut = pull(url(r.host), { onBytes: (n) => n >= 16 * MiB && r.process.kill() });
    await cut;
    await r.process.exited;
  } finally {
    proxy.bytesPerSecond = undefined;
    r.process.kill();
  }
  const partials = await readdir(join(store, "cache", "tmp"));
  assert.equal(partials.length, 1, "the killed fetch left a partial file");
  assert.ok((await stat(join(store, "cache", "tmp", partials[0] as string))).size < big.size);
  assert.deepEqual(await readdir(join(store, "cache", "sha256")), [], "nothing committed");

  const restarted = await registry(store);
  try {
    assert.deepEqual(await readdir(join(store, "cache", "tmp")), [], "the partial file was removed at start-up");
    // No manifest request: the composition and the blob's source survived the kill.
    const res = await pull(url(restarted.host));
    assert.equal(res.status, 200);
    assert.equal(res.digest, big.digest);
    await waitUntil("the blob is committed", async () => (await readdir(join(store, "cache", "sha256"))).includes(big.digest.slice(7)));
  } finally {
    await restarted.stop();
  }
});

test("a corrupted upstream blob is never committed; the good one then is, and serves without the upstream", async () => {
  const store = join(dir, "store-corrupt");
  const r = await registry(store);
  try {
    await manifestOk(r.host, "medium");
    const url = `http://${r.host}/v2/fixed/medium/blobs/${medium.digest}`;
    proxy.corrupt.add(`/blobs/${medium.digest}`);
    const bad = await pull(url).finally(() => proxy.corrupt.clear());
    assert.equal(bad.complete, false, "the client was cut off");
    assert.ok(bad.bytes < medium.size);
    await waitUntil("the partial file is removed", async () => (await readdir(join(store, "cache", "tmp"))).length === 0);
    assert.deepEqual(await readdir(join(store, "cache", "sha256")), []);

    const good = await pull(url);
    assert.ok(good.complete);
    assert.equal(good.digest, medium.digest);
    await waitUntil("committed", async () => (await readdir(join(store, "cache", "sha256"))).includes(medium.digest.slice(7)));
    const before = upstreamGets(medium.digest);
    assert.equal((await pull(url)).digest, medium.digest);
    assert.equal(upstreamGets(medium.digest), before, "served from the cache");
  } finally {
    await r.stop();
  }
});

test("under a small size bound, eviction keeps the cache directory under it while pulls go on", async (t) => {
  const store = join(dir, "store-evict");
  const bound = 5 * MiB;
  const r = await registry(store, { storeMaxBytes: bound });
  try {
    await manifestOk(r.host, "small");
    let sampling = true;
    let peak = 0;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await dirBytes(join(store, "cache")));
        await sleep(5);
      }
    })();
    const before = small.reduce((n, l) => n + upstreamGets(l.digest), 0);
    for (let round = 0; round < 3; round++) {
      // Four at a time, in a different order each round.
      const order = [...small].sort(() => Math.random() - 0.5);
      for (let i = 0; i < order.length; i += 4) {
        const results = await Promise.all(order.slice(i, i + 4).map((l) => pull(`http://${r.host}/v2/fixed/small/blobs/${l.digest}`)));
        results.forEach((res, j) => assert.equal(res.digest, order[i + j]?.digest));
      }
    }
    sampling = false;
    await sampler;
    const fetched = small.reduce((n, l) => n + upstreamGets(l.digest), 0) - before;
    t.diagnostic(`bound ${bound} bytes, peak ${peak} bytes in the cache directory; ${fetched} upstream GETs for 24 pulls of 8 blobs`);
    assert.ok(peak <= bound, `peak ${peak} > bound ${bound}`);
    assert.ok(peak > 0, "the cache was used");
    assert.ok(fetched > small.length, "evicted blobs were fetched again");
    assert.ok((await readdir(join(store, "cache", "sha256"))).length <= 5);
  } finally {
    await r.stop();
  }
});

test("a cache directory that cannot be written: blobs are streamed without caching, logged, never a failed pull", async () => {
  const store = join(dir, "store-unwritable");
  const r = await registry(store);
  try {
    await manifestOk(r.host, "medium");
    // Where fetches write: a plain file now, so no temporary file can be created (as on a read-only or broken disk).
    await rm(join(store, "cache", "tmp"), { recursive: true });
    await writeFile(join(store, "cache", "tmp"), "not a directory");
    const before = upstreamGets(medium.digest);
    for (let i = 0; i < 2; i++) {
      const res = await pull(`http://${r.host}/v2/fixed/medium/blobs/${medium.digest}`);
      assert.equal(res.status, 200);
      assert.ok(res.complete);
      assert.equal(res.digest, medium.digest);
    }
    assert.equal(upstreamGets(medium.digest) - before, 2, "each pull streamed from upstream");
    assert.deepEqual(await readdir(join(store, "cache", "sha256")), []);
    assert.match(r.process.log, /blob cache not writable; streaming without caching/);
  } finally {
    await r.stop();
  }
});
