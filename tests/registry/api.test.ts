import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { request as httpRequest } from "node:http";
import { request } from "undici";
import { sha256 } from "../support/images.ts";
import { run } from "../support/oci-clients.ts";
import { createWorld, startFacade, type Facade, type World } from "./fixture.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

let world: World;
let facade: Facade;
before(async () => {
  world = await createWorld();
  facade = await startFacade(world);
});
after(async () => {
  await facade?.stop();
  await world?.dispose();
});

async function get(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE" | "OPTIONS" = "GET") {
  const res = await rawRequest(`${new URL(facade.url).pathname.replace(/\/$/, "")}${path}`, method, headers);
  const body = res.body;
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  };
  return { status: res.statusCode, body, header, json: () => JSON.parse(body.toString("utf8")) };
}

/** node:http sends the path as written; undici and fetch would resolve dot segments first. */
function rawRequest(path: string, method: string, headers: Record<string, string>): Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(facade.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function assertOciError(res: Awaited<ReturnType<typeof get>>, status: number, code: string) {
  assert.equal(res.status, status, res.body.toString());
  assert.match(res.header("content-type") ?? "", /^application\/json/);
  const body = res.json();
  assert.ok(Array.isArray(body.errors) && body.errors.length === 1, res.body.toString());
  assert.equal(body.errors[0].code, code, res.body.toString());
  assert.equal(typeof body.errors[0].message, "string");
}

test("GET /v2/ answers {} with the API version header", async () => {
  const res = await get("/v2/");
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), {});
  assert.equal(res.header("docker-distribution-api-version"), "registry/2.0");
});

describe("manifests", () => {
  test("by tag and by digest: same bytes, digest and headers; HEAD has the headers and no body", async () => {
    const byTag = await get("/v2/fixed/oci/manifests/latest");
    assert.equal(byTag.status, 200);
    const digest = sha256(byTag.body);
    assert.equal(byTag.header("docker-content-digest"), digest);
    assert.equal(byTag.header("content-length"), String(byTag.body.length));
    assert.equal(byTag.header("content-type"), OCI_MANIFEST);
    assert.equal(byTag.header("etag"), `"${digest}"`);

    const anyTag = await get("/v2/fixed/oci/manifests/some-other-tag");
    assert.deepEqual(anyTag.body, byTag.body, "every tag gives the composed image; composition is deterministic");

    const byDigest = await get(`/v2/fixed/oci/manifests/${digest}`);
    assert.equal(byDigest.status, 200);
    assert.deepEqual(byDigest.body, byTag.body);
    assert.equal(byDigest.header("docker-content-digest"), digest);

    for (const ref of ["latest", digest]) {
      const head = await get(`/v2/fixed/oci/manifests/${ref}`, {}, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.body.length, 0);
      assert.equal(head.header("docker-content-digest"), digest);
      assert.equal(head.header("content-length"), String(byTag.body.length));
      assert.equal(head.header("content-type"), OCI_MANIFEST);
    }
  });

  test("a digest this repository never composed is unknown, even if another repository has it", async () => {
    const digest = sha256((await get("/v2/fixed/oci/manifests/latest")).body);
    assertOciError(await get(`/v2/fixed/plain/manifests/${digest}`), 404, "MANIFEST_UNKNOWN");
    assertOciError(await get(`/v2/fixed/oci/manifests/${sha256("nothing")}`), 404, "MANIFEST_UNKNOWN");
  });

  test("Accept chooses the rendering: OCI-only and Docker-only clients each get their family", async () => {
    for (const [name, baseType] of [["oci", OCI_MANIFEST], ["docker", DOCKER_MANIFEST]] as const) {
      const plain = await get(`/v2/fixed/${name}/manifests/latest`);
      assert.equal(plain.header("content-type"), baseType, "no Accept: the base's family");
      const oci = await get(`/v2/fixed/${name}/manifests/latest`, { accept: `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json` });
      const docker = await get(`/v2/fixed/${name}/manifests/latest`, { accept: DOCKER_MANIFEST });
      assert.equal(oci.header("content-type"), OCI_MANIFEST);
      assert.equal(docker.header("content-type"), DOCKER_MANIFEST);
      const ociJson = oci.json();
      const dockerJson = docker.json();
      assert.equal(ociJson.config.mediaType, "application/vnd.oci.image.config.v1+json");
      assert.equal(dockerJson.config.mediaType, "application/vnd.docker.container.image.v1+json");
      assert.equal(ociJson.config.digest, dockerJson.config.digest, "one config for both renderings");
      assert.ok(ociJson.layers.every((l: { mediaType: string }) => l.mediaType.startsWith("application/vnd.oci.image.layer.")));
      assert.ok(dockerJson.layers.every((l: { mediaType: string }) => l.mediaType.startsWith("application/vnd.docker.image.rootfs.")));
      assert.notEqual(oci.header("docker-content-digest"), docker.header("docker-content-digest"));
      // Each rendering is its own digest, and each can be fetched by it.
      for (const r of [oci, docker]) {
        const again = await get(`/v2/fixed/${name}/manifests/${r.header("docker-content-digest")}`, { accept: r.header("content-type") as string });
        assert.deepEqual(again.body, r.body);
      }
      // A digest of one family asked for with only the other family's type.
      assertOciError(await get(`/v2/fixed/${name}/manifests/${oci.header("docker-content-digest")}`, { accept: DOCKER_MANIFEST }), 404, "MANIFEST_UNKNOWN");
    }
  });

  test("a composition with no Docker rendering answers a Docker-only client 404 with the reason", async () => {
    const res = await get("/v2/fixed/zstd/manifests/latest", { accept: DOCKER_MANIFEST });
    assertOciError(res, 404, "MANIFEST_UNKNOWN");
    assert.match(JSON.stringify(res.json().errors[0].detail), /zstd.*no Docker equivalent/);
    const oci = await get("/v2/fixed/zstd/manifests/latest");
    assert.equal(oci.status, 200);
    assert.equal(oci.header("content-type"), OCI_MANIFEST, "a Docker base with a zstd layer is rendered as OCI");
  });

  test("composition errors are clear 404s", async () => {
    const cases: Array<[string, RegExp]> = [
      ["armonly", /has no linux\/amd64 image/],
      ["badlabel", /skip-n\.registry-facade\.gitpod\.io="one"/],
      ["missingbase", /does\/not-exist:1: not found upstream/],
      ["badref", /invalid image reference/],
      ["unknown", /no image spec/],
    ];
    for (const [name, message] of cases) {
      const res = await get(`/v2/fixed/${name}/manifests/latest`);
      assertOciError(res, 404, "MANIFEST_UNKNOWN");
      assert.match(res.json().errors[0].message, message, name);
    }
  });

  test("the same inputs give byte-identical manifests in a fresh registry", async () => {
    const other = await startFacade(world);
    try {
      const a = await get("/v2/fixed/docker/manifests/latest");
      const b = await request(`${other.url}/v2/fixed/docker/manifests/latest`);
      assert.deepEqual(Buffer.from(await b.body.arrayBuffer()), a.body);
    } finally {
      await other.stop();
    }
  });
});

describe("blobs", () => {
  let manifest: { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> };
  before(async () => {
    manifest = (await get("/v2/fixed/oci/manifests/latest")).json();
  });
  /** One blob of each source: upstream registry, static file, content URL, store (direct layer), store (config). */
  const blobOf = (kind: "upstream" | "file" | "url" | "direct" | "config") => {
    const index = { upstream: 0, file: 4, url: 8, direct: 9 } as const;
    return kind === "config" ? manifest.config : (manifest.layers[index[kind]] as { digest: string; size: number });
  };
  const expected = async (digest: string) => {
    const res = await get(`/v2/fixed/oci/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(res.body), digest);
    return res.body;
  };

  test("GET and HEAD carry the same headers; HEAD opens nothing upstream", async () => {
    for (const kind of ["upstream", "file", "url", "direct", "config"] as const) {
      const { digest, size } = blobOf(kind);
      const before = world.content.requests.length;
      const head = await get(`/v2/fixed/oci/blobs/${digest}`, {}, "HEAD");
      assert.equal(world.content.requests.length, before, "HEAD made no request to the content URL");
      const full = await get(`/v2/fixed/oci/blobs/${digest}`);
      for (const res of [head, full]) {
        assert.equal(res.status, 200, kind);
        assert.equal(res.header("content-length"), String(size), kind);
        assert.equal(res.header("docker-content-digest"), digest);
        assert.equal(res.header("etag"), `"${digest}"`);
        assert.equal(res.header("accept-ranges"), "bytes");
        assert.equal(res.header("content-type"), "application/octet-stream");
      }
      assert.equal(head.body.length, 0);
      assert.equal(sha256(full.body), digest, kind);
    }
    assert.deepEqual(await expected(world.remoteLayer.digest), world.remoteLayer.blob);
  });

  test("single ranges: 206 with Content-Range, the right bytes (a cached blob's from the cache)", async () => {
    for (const kind of ["upstream", "file", "url", "direct", "config"] as const) {
      const { digest, size } = blobOf(kind);
      const whole = await expected(digest);
      const cases: Array<[string, number, number]> = [
        ["bytes=0-9", 0, 9],
        [`bytes=5-`, 5, size - 1],
        ["bytes=-7", size - 7, size - 1],
        [`bytes=${size - 3}-${size + 100}`, size - 3, size - 1],
      ];
      for (const [range, start, end] of cases) {
        const before = world.content.requests.length;
        const res = await get(`/v2/fixed/oci/blobs/${digest}`, { range });
        assert.equal(res.status, 206, `${kind} ${range}`);
        assert.equal(res.header("content-range"), `bytes ${start}-${end}/${size}`);
        assert.equal(res.header("content-length"), String(end - start + 1));
        assert.deepEqual(res.body, whole.subarray(start, end + 1), `${kind} ${range}`);
        // expected() filled the blob cache with the whole blob: ranges are cut from it.
        if (kind === "url") assert.deepEqual(world.content.requests.slice(before), [], "served from the cache");
      }
    }
  });

  test("a range of a blob not cached yet comes out of one verified fetch of the whole blob, which fills the cache; without room, it is cut from a verified stream", async () => {
    for (const [what, registry, fetchesInRound2] of [
      ["with a cache", {}, 0],
      ["without room in the cache", { storeMaxBytes: 1 }, 1],
    ] as const) {
      const cold = await startFacade(world, registry);
      try {
        const { digest, size } = blobOf("url");
        await (await request(`${cold.url}/v2/fixed/oci/manifests/latest`)).body.dump();
        for (const [round, range, start, end] of [[1, "bytes=0-9", 0, 9], [2, "bytes=-7", size - 7, size - 1]] as const) {
          const before = world.content.requests.length;
          const res = await request(`${cold.url}/v2/fixed/oci/blobs/${digest}`, { headers: { range } });
          assert.equal(res.statusCode, 206, `${what}, round ${round}`);
          assert.equal(res.headers["content-range"], `bytes ${start}-${end}/${size}`);
          assert.deepEqual(Buffer.from(await res.body.arrayBuffer()), world.remoteLayer.blob.subarray(start, end + 1));
          const fetched = world.content.requests.slice(before);
          assert.deepEqual(fetched.map((r) => r.range), round === 1 ? [undefined] : Array(fetchesInRound2).fill(undefined), `${what}, round ${round}: whole-blob fetches, never a forwarded range`);
        }
      } finally {
        await cold.stop();
      }
    }
  });

  test("multiple ranges: 206 multipart/byteranges with every part", async () => {
    for (const kind of ["upstream", "url", "direct"] as const) {
      const { digest, size } = blobOf(kind);
      const whole = await expected(digest);
      const res = await get(`/v2/fixed/oci/blobs/${digest}`, { range: "bytes=0-3, 10-19, -5" });
      assert.equal(res.status, 206);
      const boundary = /^multipart\/byteranges; boundary=(.+)$/.exec(res.header("content-type") ?? "")?.[1];
      assert.ok(boundary, res.header("content-type"));
      assert.equal(res.header("content-length"), String(res.body.length));
      const parts = res.body.toString("latin1").split(`--${boundary}`);
      assert.equal(parts.at(-1), "--\r\n", "closing delimiter");
      const ranges: Array<[number, number]> = [[0, 3], [10, 19], [size - 5, size - 1]];
      ranges.forEach(([start, end], i) => {
        const part = parts[i + 1] as string;
        const [head, body] = [part.slice(0, part.indexOf("\r\n\r\n")), part.slice(part.indexOf("\r\n\r\n") + 4).replace(/\r\n$/, "")];
        assert.match(head, new RegExp(`Content-Range: bytes ${start}-${end}/${size}`));
        assert.deepEqual(Buffer.from(body, "latin1"), whole.subarray(start, end + 1), `${kind} part ${i}`);
      });
    }
  });

  test("unsatisfiable ranges: 416 with Content-Range bytes */SIZE; malformed ranges are ignored", async () => {
    for (const kind of ["upstream", "url", "direct"] as const) {
      const { digest, size } = blobOf(kind);
      const res = await get(`/v2/fixed/oci/blobs/${digest}`, { range: `bytes=${size}-${size + 10}` });
      assert.equal(res.status, 416);
      assert.equal(res.header("content-range"), `bytes */${size}`);
      const ignored = await get(`/v2/fixed/oci/blobs/${digest}`, { range: "pages=1-2" });
      assert.equal(ignored.status, 200);
      assert.equal(sha256(ignored.body), digest);
    }
  });

  test("a blob is served only under a repository whose composition references it", async () => {
    const ideLayer = blobOf("direct").digest;
    await get("/v2/fixed/plain/manifests/latest");
    assertOciError(await get(`/v2/fixed/plain/blobs/${ideLayer}`), 404, "BLOB_UNKNOWN");
    assertOciError(await get(`/v2/fixed/never-pulled/blobs/${ideLayer}`), 404, "BLOB_UNKNOWN");
    assertOciError(await get(`/v2/fixed/oci/blobs/${sha256("no such blob")}`), 404, "BLOB_UNKNOWN");
    const head = await get(`/v2/fixed/plain/blobs/${ideLayer}`, {}, "HEAD");
    assert.equal(head.status, 404);
  });
});

test("malformed and unsupported requests get OCI errors, never a 500 or a 200", async () => {
  const digest = sha256("x");
  const cases: Array<[string, string, number, string]> = [
    ["GET", "/v2/Fixed/oci/manifests/latest", 400, "NAME_INVALID"],
    ["GET", "/v2/fixed/../oci/manifests/latest", 400, "NAME_INVALID"],
    ["GET", "/v2/fixed//oci/manifests/latest", 400, "NAME_INVALID"],
    ["GET", `/v2/${"a/".repeat(200)}x/manifests/latest`, 400, "NAME_INVALID"],
    ["GET", "/v2/fixed/oci/manifests/sha256:zzzz", 400, "DIGEST_INVALID"],
    ["GET", "/v2/fixed/oci/manifests/md5:abc", 400, "DIGEST_INVALID"],
    ["GET", "/v2/fixed/oci/manifests/-bad-tag", 404, "MANIFEST_UNKNOWN"],
    ["GET", `/v2/fixed/oci/manifests/${"t".repeat(129)}`, 404, "MANIFEST_UNKNOWN"],
    ["GET", "/v2/fixed/oci/blobs/sha256:abc", 400, "DIGEST_INVALID"],
    ["GET", "/v2/fixed/oci/blobs/latest", 400, "DIGEST_INVALID"],
    ["HEAD", "/v2/fixed/oci/blobs/sha256:ABC", 400, "DIGEST_INVALID"],
    ["GET", "/v2/fixed/oci/manifests/%E0%A4%A", 404, "MANIFEST_UNKNOWN"],
    ["GET", "/v2/fixed/o%E0%A4%A/manifests/latest", 400, "NAME_INVALID"],
    ["GET", "/v2/fixed/oci%2Fx/manifests/latest", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/other/oci/manifests/latest", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/fixed/a/b/manifests/latest", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/fixed/manifests/latest", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/fixed/oci/tags/other", 404, "UNSUPPORTED"],
    ["GET", "/v2/other/oci/tags/list", 404, "NAME_UNKNOWN"],
    ["GET", "/v2/_catalog", 404, "UNSUPPORTED"],
    ["GET", "/", 404, "UNSUPPORTED"],
    ["GET", "/v3/", 404, "UNSUPPORTED"],
    ["GET", "/v2/fixed/oci/manifests/", 404, "UNSUPPORTED"],
    ["PUT", "/v2/fixed/oci/manifests/latest", 405, "UNSUPPORTED"],
    ["DELETE", `/v2/fixed/oci/manifests/${digest}`, 405, "UNSUPPORTED"],
    ["DELETE", `/v2/fixed/oci/blobs/${digest}`, 405, "UNSUPPORTED"],
    ["POST", "/v2/fixed/oci/blobs/uploads/", 405, "UNSUPPORTED"],
    ["PATCH", "/v2/fixed/oci/blobs/uploads/abc", 405, "UNSUPPORTED"],
    ["PUT", "/v2/fixed/oci/blobs/uploads/abc?digest=sha256:1", 405, "UNSUPPORTED"],
  ];
  for (const [method, path, status, code] of cases) {
    const res = await get(path, {}, method as "GET");
    if (method === "HEAD") assert.equal(res.status, status, path);
    else assertOciError(res, status, code);
  }
});

test("tags/list answers latest for a repository that has a spec, with n and last paging", async () => {
  const all = await get("/v2/fixed/oci/tags/list");
  assert.equal(all.status, 200);
  assert.deepEqual(all.json(), { name: "fixed/oci", tags: ["latest"] });
  assert.deepEqual((await get("/v2/fixed/oci/tags/list?n=0")).json(), { name: "fixed/oci", tags: [] });
  assert.deepEqual((await get("/v2/fixed/oci/tags/list?last=latest")).json(), { name: "fixed/oci", tags: [] });
  assertOciError(await get("/v2/fixed/no-such-image/tags/list"), 404, "NAME_UNKNOWN");
  assertOciError(await get("/v2/fixed/oci/tags/list?n=-1"), 400, "PAGINATION_NUMBER_INVALID");
});

test("skopeo inspect, which lists tags first, works on a composed image", async () => {
  const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${facade.host}/fixed/oci:latest`]);
  const inspected = JSON.parse(stdout) as { Name: string; RepoTags: string[]; Digest: string };
  assert.deepEqual(inspected.RepoTags, ["latest"]);
  assert.equal(inspected.Digest, sha256((await get("/v2/fixed/oci/manifests/latest", { accept: OCI_MANIFEST })).body));
});

test("composed manifests, configs and blob sources survive a restart without the spec", async () => {
  const store = facade.store;
  const tag = await get("/v2/fixed/docker/manifests/latest");
  const digest = tag.header("docker-content-digest") as string;
  const composed = tag.json();
  await facade.stop();
  // The fixed spec file is now empty: only the store can answer.
  const emptySpecs = join(world.dir, "empty-specs.json");
  await writeFile(emptySpecs, "{}");
  facade = await startFacade(world, { fixedSpecFN: emptySpecs }, { store });
  assertOciError(await get("/v2/fixed/docker/manifests/latest"), 404, "MANIFEST_UNKNOWN");
  const byDigest = await get(`/v2/fixed/docker/manifests/${digest}`);
  assert.equal(byDigest.status, 200);
  assert.deepEqual(byDigest.body, tag.body);
  for (const d of [composed.config.digest, composed.layers[0].digest, composed.layers[8].digest]) {
    const blob = await get(`/v2/fixed/docker/blobs/${d}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(blob.body), d);
  }
});

test("a prefix moves the API under it", async () => {
  const prefixed = await startFacade(world, { prefix: "/mirror/reg" });
  try {
    const ok = await request(`http://${prefixed.host}/mirror/reg/v2/fixed/plain/manifests/latest`);
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    const bare = await request(`http://${prefixed.host}/v2/fixed/plain/manifests/latest`);
    assert.equal(bare.statusCode, 404);
    assert.equal((await bare.body.json() as { errors: Array<{ code: string }> }).errors[0]?.code, "UNSUPPORTED");
  } finally {
    await prefixed.stop();
  }
});

