import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRegistry, type RunningRegistry } from "../../services/registry/src/index.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { CorruptingProxy } from "../support/corrupting-proxy.ts";
import { image, layer } from "../support/images.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/**
 * What the registry keeps of upstream: tag resolutions (reused for their TTL,
 * revalidated by HEAD, served stale with a Warning when upstream fails) and
 * manifests and configs by digest (in memory and in the store).
 */
let dir: string;
let upstream: UpstreamRegistry;
let proxy: CorruptingProxy;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-tags-"));
  upstream = await UpstreamRegistry.start();
  proxy = await CorruptingProxy.start(upstream.host);
  await upstream.pushImage("base", "1", image({ family: "oci", layers: [await layer([{ path: "v.txt", content: "one\n" }])] }));
  await writeFile(join(dir, "specs.json"), JSON.stringify({ ws: { baseRef: `${proxy.host}/base:1` } }));
});
after(async () => {
  await proxy?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function registry(tagCacheTtlMs: number, store?: string): Promise<RunningRegistry> {
  const config = parseConfig({ registry: { port: 0, store: store ?? (await mkdtemp(join(dir, "store-"))), fixedSpecFN: join(dir, "specs.json"), tagCacheTtlMs } });
  return startRegistry(config, createLogger({ level: "silent", service: "registry" }));
}

async function pull(r: RunningRegistry): Promise<{ status: number; digest: string | null; warning: string | null; code?: string }> {
  const res = await fetch(`http://127.0.0.1:${r.port}/v2/fixed/ws/manifests/latest`);
  const body = (await res.json()) as { errors?: Array<{ code: string }> };
  return { status: res.status, digest: res.headers.get("docker-content-digest"), warning: res.headers.get("warning"), code: body.errors?.[0]?.code };
}

const heads = () => proxy.requests.filter((r) => r === "HEAD /v2/base/manifests/1").length;

test("within its TTL a tag is resolved once; concurrent pulls share one HEAD", async () => {
  const r = await registry(60_000);
  try {
    const before = heads();
    const answers = await Promise.all(Array.from({ length: 5 }, () => pull(r)));
    answers.push(await pull(r));
    assert.deepEqual(answers.map((a) => a.status), Array(6).fill(200));
    assert.equal(heads() - before, 1);
  } finally {
    await r.stop();
  }
});

test("upstream rate-limiting or unreachable: the last digest, with a Warning; a tag gone upstream is never served stale", async () => {
  // TTL 0: every pull revalidates, so every pull meets the failing upstream.
  const r = await registry(0);
  try {
    const fresh = await pull(r);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.warning, null);
    for (const failure of [429, "reset"] as const) {
      proxy.failWith = failure;
      try {
        const before = heads();
        const stale = await pull(r);
        assert.equal(heads() - before, 1, "it did ask upstream");
        assert.equal(stale.status, 200, String(failure));
        assert.equal(stale.digest, fresh.digest);
        assert.match(stale.warning ?? "", /^110 registry-facade ".*base:1: upstream/, String(failure));
        if (failure === 429) assert.match(stale.warning ?? "", /\(429\)/);
      } finally {
        proxy.failWith = undefined;
      }
    }
    assert.equal((await pull(r)).warning, null, "fresh again once upstream answers");
    proxy.failWith = 404;
    try {
      const gone = await pull(r);
      assert.equal(gone.status, 404);
      assert.equal(gone.code, "MANIFEST_UNKNOWN");
    } finally {
      proxy.failWith = undefined;
    }
  } finally {
    await r.stop();
  }
});

test("manifests and configs fetched once are kept on disk: a restarted registry only revalidates the tag", async () => {
  const store = await mkdtemp(join(dir, "store-"));
  const first = await registry(60_000, store);
  let digest: string | null;
  try {
    digest = (await pull(first)).digest;
  } finally {
    await first.stop();
  }
  const before = proxy.requests.length;
  const restarted = await registry(60_000, store);
  try {
    const again = await pull(restarted);
    assert.equal(again.status, 200);
    assert.equal(again.digest, digest);
    assert.deepEqual(proxy.requests.slice(before), ["HEAD /v2/base/manifests/1"], "no manifest or config fetched again");
  } finally {
    await restarted.stop();
  }
});
