import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer, type BuiltImage, type Layer } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { startFacade } from "./fixture.ts";

/**
 * Every URL the registry requests comes from someone else (image references,
 * an upstream's redirects, content URLs in specs). This upstream redirects
 * blob requests wherever a repository's name says; none of them may make the
 * registry request the cloud metadata service, and a loop must end.
 */
const logs = new LogCapture();
let dir: string;
let upstream: Server;
let host: string;
/** An image per repository: configs are cached by digest, so each test needs its own. */
const images = new Map<string, BuiltImage>();
let content: Layer;
let facade: Awaited<ReturnType<typeof startFacade>>;
const blobRequests: string[] = [];

const REDIRECTS: Record<string, (url: URL) => string> = {
  metadata: () => "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
  "metadata-name": () => "http://metadata.google.internal/computeMetadata/v1/",
  // Relative Locations, each to the same blob again: a loop.
  loop: (url) => `?hop=${Number(url.searchParams.get("hop") ?? 0) + 1}`,
  // A relative Location to where the bytes really are, as object storage does.
  relative: (url) => `/files/${url.pathname.split("/").at(-1)}`,
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-outbound-"));
  content = await layer([{ path: "content.txt", content: "content\n" }]);
  for (const repository of Object.keys(REDIRECTS)) {
    images.set(repository, image({ family: "oci", layers: [await layer([{ path: "base.txt", content: `${repository}\n` }])] }));
  }
  upstream = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    const manifest = /^\/v2\/([a-z-]+)\/manifests\/(1|sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const blob = /^\/v2\/([a-z-]+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
    const base = images.get((manifest ?? blob)?.[1] ?? "");
    if (manifest && base) {
      res.writeHead(200, { "content-type": base.mediaType, "docker-content-digest": base.manifestDigest, "content-length": base.manifest.length });
      return res.end(req.method === "HEAD" ? undefined : base.manifest);
    }
    if (blob) {
      blobRequests.push(`${url.pathname}${url.search}`);
      const redirect = REDIRECTS[blob[1] ?? ""];
      return redirect ? res.writeHead(302, { location: redirect(url) }).end() : res.writeHead(404).end();
    }
    const file = [...images.values()].find((i) => url.pathname === `/files/${i.configDigest}`);
    if (file) return res.writeHead(200).end(file.config);
    res.writeHead(404).end();
  });
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  host = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const remoteContent = (url: string) => ({ remote: { url, digest: content.digest, diffId: content.diffId, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: String(content.size) } });
  const specs = {
    metadata: { baseRef: `${host}/metadata:1` },
    "metadata-name": { baseRef: `${host}/metadata-name:1` },
    loop: { baseRef: `${host}/loop:1` },
    relative: { baseRef: `${host}/relative:1` },
    "metadata-registry": { baseRef: "169.254.169.254/latest/meta-data:1" },
    "metadata-content": { baseRef: `${host}/relative:1`, contentLayer: [remoteContent("http://169.254.169.254/latest/user-data")] },
  };
  await writeFile(join(dir, "specs.json"), JSON.stringify(specs));
  facade = await startFacade({ registry: { store: join(dir, "store"), fixedSpecFN: join(dir, "specs.json") } }, logs.logger("registry"));
});

after(async () => {
  await facade?.registry.stop();
  upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

async function ociError(path: string): Promise<{ status: number; code: string | undefined; message: string | undefined; detail: Record<string, unknown> | undefined }> {
  const res = await fetch(`${facade.url}${path}`);
  const body = (await res.json()) as { errors?: Array<{ code: string; message: string; detail?: Record<string, unknown> }> };
  return { status: res.status, code: body.errors?.[0]?.code, message: body.errors?.[0]?.message, detail: body.errors?.[0]?.detail };
}

test("a blob redirect that is followed by hand, relative Location included, composes the image", async () => {
  const res = await fetch(`${facade.url}/v2/fixed/relative/manifests/latest`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok(blobRequests.includes(`/v2/relative/blobs/${images.get("relative")?.configDigest}`));
});

for (const [name, url] of [
  ["metadata", "http://169.254.169.254"],
  ["metadata-name", "http://metadata.google.internal"],
] as const) {
  test(`a blob redirect to the metadata service (${url}) is refused as 502 UPSTREAM_INVALID, not followed`, async () => {
    const error = await ociError(`/v2/fixed/${name}/manifests/latest`);
    assert.deepEqual(error, {
      status: 502,
      code: "UPSTREAM_INVALID",
      message: "refusing to contact an upstream redirect target",
      detail: { url, reason: "link-local or metadata address" },
    });
  });
}

test("a redirect loop ends after five hops with 502 UPSTREAM_INVALID", async () => {
  const before = blobRequests.length;
  const error = await ociError("/v2/fixed/loop/manifests/latest");
  assert.equal(error.status, 502);
  assert.equal(error.code, "UPSTREAM_INVALID");
  assert.match(error.message ?? "", /too many upstream redirects/);
  assert.deepEqual(blobRequests.slice(before), [0, 1, 2, 3, 4, 5].map((hop) => `/v2/loop/blobs/${images.get("loop")?.configDigest}${hop === 0 ? "" : `?hop=${hop}`}`));
});

test("an image reference on a metadata address is refused before any request", async () => {
  const error = await ociError("/v2/fixed/metadata-registry/manifests/latest");
  assert.equal(error.status, 502);
  assert.equal(error.code, "UPSTREAM_INVALID");
  assert.deepEqual(error.detail, { url: "https://169.254.169.254", reason: "link-local or metadata address" });
});

test("a content layer URL on a metadata address is refused when its blob is pulled", async () => {
  const manifest = await fetch(`${facade.url}/v2/fixed/metadata-content/manifests/latest`);
  assert.equal(manifest.status, 200);
  const layers = ((await manifest.json()) as { layers: Array<{ digest: string }> }).layers;
  assert.equal(layers.at(-1)?.digest, content.digest);
  const error = await ociError(`/v2/fixed/metadata-content/blobs/${content.digest}`);
  assert.equal(error.status, 502);
  assert.equal(error.code, "UPSTREAM_INVALID");
  assert.deepEqual(error.detail, { url: "http://169.254.169.254", reason: "link-local or metadata address" });
});
