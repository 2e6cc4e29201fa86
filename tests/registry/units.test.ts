import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAccept, accepts } from "../../services/registry/src/accept.ts";
import { parseRange } from "../../services/registry/src/blobs/range.ts";
import { applyEnvRules } from "../../services/registry/src/compose/env.ts";
import { render } from "../../services/registry/src/compose/render.ts";
import type { Composition } from "../../services/registry/src/compose/compose.ts";
import { parseManifestReference, parseRepository } from "../../services/registry/src/names.ts";
import { RegistryError } from "../../services/registry/src/errors.ts";
import { SingleFlight } from "../../services/registry/src/cache/single-flight.ts";
import { Store } from "../../services/registry/src/store.ts";
import { singleFlightWaiters } from "../../services/shared/telemetry/metrics.ts";

const D = (c: string) => `sha256:${c.repeat(64)}`;

test("env rules: SET replaces, APPEND puts the value in front, PREPEND behind (Gitpod's naming)", () => {
  const base = ["PATH=/usr/bin", "A=1", "EMPTY="];
  assert.deepEqual(applyEnvRules(base, ["GITPOD_ENV_SET_A=2"]), ["PATH=/usr/bin", "A=2", "EMPTY="]);
  assert.deepEqual(applyEnvRules(base, ["GITPOD_ENV_APPEND_PATH=/ide:"]), ["PATH=/ide:/usr/bin", "A=1", "EMPTY="]);
  assert.deepEqual(applyEnvRules(base, ["GITPOD_ENV_PREPEND_PATH=:/ide"]), ["PATH=/usr/bin:/ide", "A=1", "EMPTY="]);
  assert.deepEqual(applyEnvRules(base, ["GITPOD_ENV_APPEND_EMPTY=x"]), ["PATH=/usr/bin", "A=1", "EMPTY=x"]);
  // Absent names are simply set, in order of appearance.
  assert.deepEqual(applyEnvRules([], ["GITPOD_ENV_APPEND_N=a", "GITPOD_ENV_PREPEND_M=b", "GITPOD_ENV_SET_O=c=d"]), ["N=a", "M=b", "O=c=d"]);
  // Rules apply in order; other entries of the add-on are ignored.
  assert.deepEqual(applyEnvRules(["P=x"], ["GITPOD_ENV_APPEND_P=a", "GITPOD_ENV_PREPEND_P=b", "OTHER=1", "GITPOD_ENV_UNKNOWN_P=z"]), ["P=axb"]);
  assert.deepEqual(base, ["PATH=/usr/bin", "A=1", "EMPTY="], "input untouched");
});

test("Range parsing follows RFC 9110", () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: "none" });
  assert.deepEqual(parseRange("bytes=0-9", 100), { kind: "ranges", ranges: [{ start: 0, end: 9 }] });
  assert.deepEqual(parseRange("bytes=90-", 100), { kind: "ranges", ranges: [{ start: 90, end: 99 }] });
  assert.deepEqual(parseRange("bytes=-10", 100), { kind: "ranges", ranges: [{ start: 90, end: 99 }] });
  assert.deepEqual(parseRange("bytes=-1000", 100), { kind: "ranges", ranges: [{ start: 0, end: 99 }] });
  assert.deepEqual(parseRange("bytes=50-1000", 100), { kind: "ranges", ranges: [{ start: 50, end: 99 }] });
  assert.deepEqual(parseRange("bytes=0-0, 5-6", 100), { kind: "ranges", ranges: [{ start: 0, end: 0 }, { start: 5, end: 6 }] });
  assert.deepEqual(parseRange("bytes=100-", 100), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-0", 100), { kind: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=200-300, 100-", 100), { kind: "unsatisfiable" });
  for (const ignored of ["bytes=", "bytes=5-1", "bytes=a-b", "items=0-1", "bytes=-", `bytes=${Array.from({ length: 17 }, (_, i) => `${i}-${i}`).join(",")}`]) {
    assert.deepEqual(parseRange(ignored, 100), { kind: "none" }, ignored);
  }
});

test("Accept: no header or a wildcard admits all; q=0 refuses", () => {
  assert.equal(parseAccept(undefined), "any");
  assert.equal(parseAccept("*/*"), "any");
  assert.equal(parseAccept("application/vnd.oci.image.manifest.v1+json, */*;q=0.5"), "any");
  const oci = parseAccept("application/vnd.oci.image.manifest.v1+json;q=0.9, application/vnd.docker.distribution.manifest.v2+json;q=0");
  assert.ok(accepts(oci, "application/vnd.oci.image.manifest.v1+json"));
  assert.ok(!accepts(oci, "application/vnd.docker.distribution.manifest.v2+json"));
});

test("renderings convert layer and config media types and are deterministic", () => {
  const composition: Composition = {
    family: "docker",
    config: { bytes: Buffer.from("{}"), digest: D("c") },
    layers: [
      { descriptor: { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: D("a"), size: 10 }, source: { kind: "store" } },
      { descriptor: { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: D("b"), size: 20, annotations: { k: "v" } }, source: { kind: "store" } },
      { descriptor: { mediaType: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", digest: D("d"), size: 30, urls: ["https://x"] }, source: { kind: "store" } },
    ],
    annotations: { a: "b" },
  };
  const oci = render(composition, "oci");
  const docker = render(composition, "docker");
  assert.ok("bytes" in oci && "bytes" in docker);
  const o = JSON.parse(oci.bytes.toString());
  const d = JSON.parse(docker.bytes.toString());
  assert.deepEqual(o.layers.map((l: { mediaType: string }) => l.mediaType), ["application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"]);
  assert.deepEqual(d.layers.map((l: { mediaType: string }) => l.mediaType), ["application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.diff.tar", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"]);
  assert.deepEqual(d.layers[1].annotations, { k: "v" });
  assert.deepEqual(o.layers[2].urls, ["https://x"]);
  assert.equal(o.config.mediaType, "application/vnd.oci.image.config.v1+json");
  assert.equal(d.config.mediaType, "application/vnd.docker.container.image.v1+json");
  assert.deepEqual(render(composition, "oci"), oci, "same composition, same bytes");
  const zstd = render({ ...composition, layers: [{ descriptor: { mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: D("e"), size: 1 }, source: { kind: "store" } }] }, "docker");
  assert.ok("unrenderable" in zstd && /zstd/.test(zstd.unrenderable));
});

test("repository names and references", () => {
  assert.deepEqual(parseRepository("remote/ws-1"), { kind: "remote", key: "ws-1", name: "remote/ws-1" });
  assert.deepEqual(parseManifestReference("latest"), { kind: "tag", tag: "latest" });
  assert.deepEqual(parseManifestReference(D("f")), { kind: "digest", digest: D("f") });
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof RegistryError ? `${err.status} ${err.code}` : "other";
    }
    return "none";
  };
  assert.equal(code(() => parseRepository("remote/WS")), "400 NAME_INVALID");
  assert.equal(code(() => parseRepository("remote")), "404 NAME_UNKNOWN");
  assert.equal(code(() => parseRepository("library/alpine")), "404 NAME_UNKNOWN");
  assert.equal(code(() => parseManifestReference("sha256:12")), "400 DIGEST_INVALID");
  assert.equal(code(() => parseManifestReference(".hidden")), "404 MANIFEST_UNKNOWN");
});

test("single flight: concurrent callers of a key share one run and count as waiters until it settles; the next call runs again", async () => {
  const flights = new SingleFlight<string, number>("unit-test");
  const waiting = async () => (await singleFlightWaiters.get()).values.find((v) => v.labels.operation === "unit-test")?.value ?? 0;
  let runs = 0;
  let finish: (value: number) => void = () => undefined;
  const work = () => {
    runs++;
    return new Promise<number>((resolve) => (finish = resolve));
  };
  const callers = [flights.run("k", work), flights.run("k", work), flights.run("k", work)];
  const other = flights.run("other", async () => 7);
  assert.equal(runs, 1);
  assert.equal(await waiting(), 2);
  finish(42);
  assert.deepEqual(await Promise.all(callers), [42, 42, 42]);
  assert.equal(await other, 7);
  assert.equal(await waiting(), 0);
  const again = flights.run("k", work);
  assert.equal(runs, 2, "nothing is remembered once a run settled");
  finish(43);
  assert.equal(await again, 43);
});

test("store: a blob stored again within the grace period is kept by the sweep; an idle one is removed", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "facade-store-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = new Store(root);
  await store.init();
  const bytes = Buffer.from("a direct layer");
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await store.putBlob(digest, bytes);
  const longAgo = new Date(Date.now() - 3_600_000);
  await utimes(store.blobPath(digest), longAgo, longAgo);
  await store.putBlob(digest, bytes);
  assert.equal(await store.removeBlobIfIdle(digest, 60_000), false, "stored again just now: kept");
  assert.equal(await store.hasBlob(digest), true);
  await utimes(store.blobPath(digest), longAgo, longAgo);
  assert.equal(await store.removeBlobIfIdle(digest, 60_000), true);
  assert.equal(await store.hasBlob(digest), false);
  assert.equal(await store.removeBlobIfIdle(digest, 0), false, "already gone");
});
