import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { CorruptingProxy } from "../support/corrupting-proxy.ts";
import { sha256 } from "../support/images.ts";
import { createWorld, startFacade, type Facade, type World } from "./fixture.ts";

/**
 * An upstream that serves wrong bytes must never produce a complete response
 * with those bytes: the registry verifies every digest it can.
 */
let world: World;
let proxy: CorruptingProxy;
let facade: Facade;
let corruptUrl: string;

before(async () => {
  world = await createWorld();
  proxy = await CorruptingProxy.start(world.upstream.host);
  const viaProxy = (ref: string | undefined) => (ref ?? "").replace(world.upstream.host, proxy.host);
  // The remote layer's URL serves other bytes of the same length than its digest says.
  const wrong = Buffer.from(world.remoteLayer.blob);
  wrong[10] = (wrong[10] as number) ^ 0xff;
  corruptUrl = world.content.put("/layers/corrupt.tar.gz", wrong);
  const remote = world.remoteLayer;
  const specs = {
    base: { baseRef: viaProxy(world.refs["baseOci"]) },
    dockerbase: { baseRef: viaProxy(world.refs["baseDocker"]) },
    remote: {
      baseRef: world.refs["baseOci"],
      contentLayer: [{ remote: { url: corruptUrl, digest: remote.digest, diffId: remote.diffId, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: String(remote.size) } }],
    },
  };
  const specFile = join(world.dir, "corrupt-specs.json");
  await writeFile(specFile, JSON.stringify(specs));
  facade = await startFacade(world, { fixedSpecFN: specFile }, { withStatic: false });
});
after(async () => {
  await facade?.stop();
  await proxy?.stop();
  await world?.dispose();
});

/** A GET read with node:http, reporting whether the body arrived complete. */
function fetchBlob(path: string, from: Facade = facade, range?: string): Promise<{ status: number; length: number; received: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    const req = httpRequest(`http://${from.host}${path}`, { headers: range ? { range } : {} }, (res) => {
      const chunks: Buffer[] = [];
      const finish = (complete: boolean) => {
        const received = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, length: Number(res.headers["content-length"]), received, complete });
      };
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => finish(res.complete));
      res.on("error", () => finish(false));
      res.on("aborted", () => undefined);
    });
    req.on("error", () => resolve({ status: 0, length: NaN, received: Buffer.alloc(0), complete: false }));
    req.end();
  });
}

async function manifest(name: string): Promise<{ layers: Array<{ digest: string; size: number }> }> {
  const res = await fetch(`http://${facade.host}/v2/fixed/${name}/manifests/latest`);
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { layers: Array<{ digest: string; size: number }> };
}

test("a base layer corrupted upstream: the client gets an error, never the complete wrong blob", async () => {
  const layer = (await manifest("base")).layers[0] as { digest: string; size: number };
  proxy.corrupt.add(`/blobs/${layer.digest}`);
  try {
    const res = await fetchBlob(`/v2/fixed/base/blobs/${layer.digest}`);
    // A small blob is one chunk, held back until verified: the socket may be
    // cut before the status line is even flushed (status 0), or mid-body.
    assert.ok(res.status === 0 || (res.status === 200 && res.length === layer.size), `status ${res.status}`);
    assert.equal(res.complete, false, "the connection was cut");
    assert.ok(res.received.length < layer.size, `received ${res.received.length} of ${layer.size} bytes`);
  } finally {
    proxy.corrupt.clear();
  }
  // The registry itself is fine: the same blob, uncorrupted, streams whole.
  const good = await fetchBlob(`/v2/fixed/base/blobs/${layer.digest}`);
  assert.ok(good.complete);
  assert.equal(sha256(good.received), layer.digest);
});

test("HEAD on an upstream blob answers from the record: nothing reaches the upstream", async () => {
  const layer = (await manifest("base")).layers[1] as { digest: string; size: number };
  const before = proxy.requests.length;
  const head = await fetch(`http://${facade.host}/v2/fixed/base/blobs/${layer.digest}`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(layer.size));
  assert.deepEqual(proxy.requests.slice(before), []);
  await (await fetch(`http://${facade.host}/v2/fixed/base/blobs/${layer.digest}`)).arrayBuffer();
  assert.deepEqual(proxy.requests.slice(before), [`GET /v2/base/oci/blobs/${layer.digest}`], "a GET does reach it");
});

test("a remote content layer whose URL serves wrong bytes is cut off too", async () => {
  const layer = (await manifest("remote")).layers.at(-1) as { digest: string; size: number };
  assert.equal(layer.digest, world.remoteLayer.digest);
  const res = await fetchBlob(`/v2/fixed/remote/blobs/${layer.digest}`);
  assert.ok(res.status === 0 || res.status === 200, `status ${res.status}`);
  assert.equal(res.complete, false);
  assert.ok(res.received.length < layer.size);
});

test("a range of a corrupt blob not cached yet is cut before its last byte, with or without room in the cache", async () => {
  const layer = (await manifest("remote")).layers.at(-1) as { digest: string; size: number };
  // The corrupt byte (10) is outside the range: the range is still refused, since the blob is not what its digest says.
  for (const f of [facade, await startFacade(world, { fixedSpecFN: join(world.dir, "corrupt-specs.json"), storeMaxBytes: 1 }, { withStatic: false })]) {
    try {
      // A registry knows the blobs of the images it composed.
      assert.equal((await fetch(`http://${f.host}/v2/fixed/remote/manifests/latest`)).status, 200);
      const res = await fetchBlob(`/v2/fixed/remote/blobs/${layer.digest}`, f, "bytes=0-9");
      assert.ok(res.status === 0 || res.status === 206, `status ${res.status}`);
      assert.equal(res.complete, false, "the connection was cut");
      assert.ok(res.received.length < 10, `received ${res.received.length} of 10 bytes`);
      assert.deepEqual(res.received, world.remoteLayer.blob.subarray(0, res.received.length));
    } finally {
      if (f !== facade) await f.stop();
    }
  }
});

test("a corrupted config or manifest upstream fails composition with 502, never a manifest", async () => {
  // The config is the same document as the OCI base's, already verified and
  // cached by the earlier tests: a fresh registry has to fetch it again.
  await facade.stop();
  facade = await startFacade(world, { fixedSpecFN: join(world.dir, "corrupt-specs.json") }, { withStatic: false });
  const config = world.images["baseDocker"]?.configDigest as string;
  // The tag is resolved with a HEAD, the manifest then fetched by digest.
  const manifestByDigest = `/v2/base/docker/manifests/${world.images["baseDocker"]?.manifestDigest}`;
  for (const target of [manifestByDigest, `/blobs/${config}`]) {
    proxy.corrupt.add(target);
    try {
      const res = await fetch(`http://${facade.host}/v2/fixed/dockerbase/manifests/latest`);
      assert.equal(res.status, 502, target);
      const body = (await res.json()) as { errors: Array<{ code: string; message: string }> };
      assert.equal(body.errors[0]?.code, "UPSTREAM_INVALID");
      assert.match(body.errors[0]?.message ?? "", /does not match its digest/);
    } finally {
      proxy.corrupt.clear();
    }
  }
  assert.equal((await fetch(`http://${facade.host}/v2/fixed/dockerbase/manifests/latest`)).status, 200);
});

test("a client that disconnects mid-blob aborts the request to the content URL", async () => {
  const size = 64 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 7);
  const url = world.content.putSlow("/layers/slow.tar", size, chunk, 20);
  // The digest does not matter: the transfer is abandoned long before the end.
  const digest = sha256("slow layer");
  const specFile = join(world.dir, "slow-specs.json");
  await writeFile(specFile, JSON.stringify({ slow: { baseRef: world.refs["baseOci"], contentLayer: [{ remote: { url, digest, diffId: "", mediaType: "application/vnd.oci.image.layer.v1.tar", size: String(size) } }] } }));
  const f = await startFacade(world, { fixedSpecFN: specFile }, { withStatic: false });
  try {
    assert.equal((await fetch(`http://${f.host}/v2/fixed/slow/manifests/latest`)).status, 200);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`http://${f.host}/v2/fixed/slow/blobs/${digest}`, (res) => {
        let received = 0;
        res.on("data", (c: Buffer) => {
          received += c.length;
          if (received > 1024 * 1024) {
            req.destroy();
            resolve();
          }
        });
        res.on("error", () => undefined);
      });
      req.on("error", () => undefined);
      req.setTimeout(10_000, () => reject(new Error("no data")));
      req.end();
    });
    const deadline = Date.now() + 5000;
    while (!world.content.abandoned.includes("/layers/slow.tar") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(world.content.abandoned, ["/layers/slow.tar"], "the upstream response was cut, not read to the end");
  } finally {
    await f.stop();
  }
});

test("concurrent pulls of one workspace share one composition", async () => {
  const f = await startFacade(world, { fixedSpecFN: join(world.dir, "corrupt-specs.json") }, { withStatic: false });
  try {
    const before = proxy.requests.length;
    const answers = await Promise.all(Array.from({ length: 10 }, () => fetch(`http://${f.host}/v2/fixed/dockerbase/manifests/latest`)));
    const digests = new Set(answers.map((r) => r.headers.get("docker-content-digest")));
    assert.deepEqual(answers.map((r) => r.status), Array(10).fill(200));
    assert.equal(digests.size, 1);
    assert.deepEqual(proxy.requests.slice(before).filter((r) => r.startsWith("HEAD /v2/base/docker/manifests/")), ["HEAD /v2/base/docker/manifests/1"], "the tag was resolved once");
  } finally {
    await f.stop();
  }
});
