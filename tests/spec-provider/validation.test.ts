import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { status as Code } from "@grpc/grpc-js";
import type { ContentLayer, ImageSpec, RemoteContentLayer } from "../../gen/registryfacade/provider.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { DIGEST_A, DIGEST_B, failure, spec } from "./helpers.ts";
import { tarOf } from "./tar.ts";

/** Every validation rule, through the real API: INVALID_ARGUMENT with a BadRequest naming the field. */

const MAX_DIRECT = 4096;
let sp: TestSpecProvider;
before(async () => {
  sp = await startTestSpecProvider({ specProvider: { maxDirectContentBytes: MAX_DIRECT } });
});
after(() => sp.stop());

const put = (id: string, s: ImageSpec | undefined) => unaryCall(sp.client.putSpec.bind(sp.client), { id, spec: s });

async function assertInvalid(call: Promise<unknown>, fields: string[]): Promise<void> {
  const result = await failure(call);
  assert.equal(result.code, Code.INVALID_ARGUMENT, `code ${Code[result.code]}: ${result.message}`);
  assert.deepEqual(result.fields, fields);
}

function remote(overrides: Partial<RemoteContentLayer> = {}): ContentLayer {
  return {
    spec: {
      $case: "remote",
      value: { url: "https://blobs.example/layer", digest: DIGEST_A, diffId: DIGEST_B, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: 100n, ...overrides },
    },
  };
}

function direct(content: Buffer): ContentLayer {
  return { spec: { $case: "direct", value: { content } } };
}

const badIds: Array<[string, string]> = [
  ["empty", ""],
  ["upper case", "Workspace-1"],
  ["a slash", "team/ws"],
  ["a leading separator", "-ws"],
  ["a trailing separator", "ws."],
  ["two dots", "ws..1"],
  ["a space", "ws 1"],
  ["129 characters", "a".repeat(129)],
];

for (const [what, id] of badIds) {
  test(`an id with ${what} is refused by every RPC that takes one`, async () => {
    await assertInvalid(put(id, spec()), ["id"]);
    await assertInvalid(unaryCall(sp.client.getSpec.bind(sp.client), { id }), ["id"]);
    await assertInvalid(unaryCall(sp.client.deleteSpec.bind(sp.client), { id }), ["id"]);
    await assertInvalid(unaryCall(sp.specProviderClient.getImageSpec.bind(sp.specProviderClient), { id }), ["id"]);
  });
}

test("the longest and the most separated valid ids are accepted", async () => {
  for (const id of ["a".repeat(128), "a.b_c__d-e---f9", "0"]) assert.equal((await put(id, spec())).stored?.id, id);
});

const badSpecs: Array<[string, ImageSpec | undefined, string[]]> = [
  ["no spec", undefined, ["spec"]],
  ["no base_ref", spec({ baseRef: "" }), ["spec.base_ref"]],
  ["an unparsable base_ref", spec({ baseRef: "Alpine:latest" }), ["spec.base_ref"]],
  ["a base_ref with a bad digest", spec({ baseRef: "alpine@sha256:abc" }), ["spec.base_ref"]],
  ["a bad ide_ref", spec({ ideRef: "ghcr.io/acme/ide:bad tag" }), ["spec.ide_ref"]],
  ["a bad supervisor_ref", spec({ supervisorRef: "ghcr.io//x" }), ["spec.supervisor_ref"]],
  ["an empty and a bad ide_layer_ref", spec({ ideLayerRef: ["ok:1", "", "UPPER"] }), ["spec.ide_layer_ref[1]", "spec.ide_layer_ref[2]"]],
  ["a content layer of neither kind", spec({ contentLayer: [remote(), {}] }), ["spec.content_layer[1]"]],
  ["a remote layer without url", spec({ contentLayer: [remote({ url: "" })] }), ["spec.content_layer[0].remote.url"]],
  ["a remote layer with a non-http url", spec({ contentLayer: [remote({ url: "ftp://blobs.example/l" })] }), ["spec.content_layer[0].remote.url"]],
  ["a remote layer with no URL at all", spec({ contentLayer: [remote({ url: "blobs.example/l" })] }), ["spec.content_layer[0].remote.url"]],
  ["a remote layer with a bad digest", spec({ contentLayer: [remote(), remote({ digest: "sha256:ABC" })] }), ["spec.content_layer[1].remote.digest"]],
  ["a remote layer without digest", spec({ contentLayer: [remote({ digest: "" })] }), ["spec.content_layer[0].remote.digest"]],
  ["a remote layer with a bad diff_id", spec({ contentLayer: [remote({ diffId: "md5:00" })] }), ["spec.content_layer[0].remote.diff_id"]],
  ["a remote layer without media type", spec({ contentLayer: [remote({ mediaType: "" })] }), ["spec.content_layer[0].remote.media_type"]],
  ["a remote layer with a non-layer media type", spec({ contentLayer: [remote({ mediaType: "application/vnd.oci.image.config.v1+json" })] }), ["spec.content_layer[0].remote.media_type"]],
  ["a compressed remote layer without diff_id", spec({ contentLayer: [remote({ diffId: "" })] }), ["spec.content_layer[0].remote.diff_id"]],
  ["an uncompressed remote layer with a different diff_id", spec({ contentLayer: [remote({ mediaType: "application/vnd.oci.image.layer.v1.tar" })] }), ["spec.content_layer[0].remote.diff_id"]],
  ["a remote layer of size 0", spec({ contentLayer: [remote({ size: 0n })] }), ["spec.content_layer[0].remote.size"]],
  ["a remote layer of negative size", spec({ contentLayer: [remote({ size: -5n })] }), ["spec.content_layer[0].remote.size"]],
  ["an empty direct layer", spec({ contentLayer: [direct(Buffer.alloc(0))] }), ["spec.content_layer[0].direct.content"]],
  ["a direct layer over the limit", spec({ contentLayer: [direct(Buffer.alloc(MAX_DIRECT + 512))] }), ["spec.content_layer[0].direct.content"]],
  ["a gzipped direct layer", spec({ contentLayer: [direct(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]))] }), ["spec.content_layer[0].direct.content"]],
  ["a direct layer that is not a tar", spec({ contentLayer: [direct(Buffer.from("not a tar ".repeat(100)))] }), ["spec.content_layer[0].direct.content"]],
];

for (const [what, s, fields] of badSpecs) {
  test(`PutSpec with ${what} is INVALID_ARGUMENT naming ${fields.join(", ")}`, async () => {
    await assertInvalid(put("ws-valid", s), fields);
  });
}

test("every violation of a request is reported at once, and nothing is stored", async () => {
  const bad = spec({ baseRef: "", ideLayerRef: ["BAD"], contentLayer: [remote({ url: "file:///etc/passwd", digest: "x", size: 0n }), direct(Buffer.alloc(0))] });
  await assertInvalid(put("BAD ID", bad), [
    "id",
    "spec.base_ref",
    "spec.ide_layer_ref[0]",
    "spec.content_layer[0].remote.url",
    "spec.content_layer[0].remote.digest",
    "spec.content_layer[0].remote.size",
    "spec.content_layer[1].direct.content",
  ]);
  const { specs } = await unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize: 0, pageToken: "" });
  assert.ok(!specs.some((s) => s.id === "ws-valid"), "no invalid put was stored");
});

test("valid specs of every shape are accepted, refs kept as the client wrote them", async () => {
  const content = await tarOf({ "workspace/README.md": "hello" });
  const s = spec({
    baseRef: "alpine",
    ideRef: "localhost:5000/ide:latest",
    supervisorRef: `ghcr.io/acme/supervisor@sha256:${"e".repeat(64)}`,
    ideLayerRef: ["[::1]:5000/tool:1"],
    contentLayer: [
      direct(content),
      remote({ url: "http://127.0.0.1:9/l.tar", mediaType: "application/vnd.docker.image.rootfs.diff.tar", diffId: "" }),
      remote({ url: "http://127.0.0.1:9/l.tar", mediaType: "application/vnd.oci.image.layer.v1.tar", diffId: DIGEST_A }),
      remote({ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip" }),
      remote({ mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" }),
    ],
  });
  const { stored } = await put("ws-shapes", s);
  assert.deepEqual(stored?.spec, s);
  assert.equal(stored?.spec?.baseRef, "alpine", "not rewritten to docker.io/library/alpine:latest");
});

test("DeleteSpec refuses expected_revision 0, which could never hold", async () => {
  await assertInvalid(unaryCall(sp.client.deleteSpec.bind(sp.client), { id: "ws-1", expectedRevision: 0n }), ["expected_revision"]);
});

test("ListSpecs refuses a negative page size and a token it did not issue", async () => {
  await assertInvalid(unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize: -1, pageToken: "" }), ["page_size"]);
  await assertInvalid(unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize: 10, pageToken: "not a token!" }), ["page_token"]);
  await assertInvalid(unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize: 10, pageToken: Buffer.from("UPPER").toString("base64url") }), ["page_token"]);
});

test("a page size over the maximum is not refused", async () => {
  const page = await unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize: 1_000_000, pageToken: "" });
  assert.ok(page.specs.length > 0);
});
