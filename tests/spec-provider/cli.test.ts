import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { FACADECTL, ROOT, facadectl, type CliResult } from "../support/facadectl.ts";
import { freePort, startProcess, waitUntil } from "../support/process.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { DIGEST_A, DIGEST_B } from "./helpers.ts";
import { tarOf } from "./tar.ts";

/** facadectl end to end: the real executable against a real spec-provider. */

let sp: TestSpecProvider;
let dir: string;
let blobs: Server;
let blobsUrl: string;

before(async () => {
  sp = await startTestSpecProvider();
  dir = await mkdtemp(join(tmpdir(), "facadectl-"));
  // A blob server for --content-url without --size: facadectl HEADs it.
  blobs = createServer((_req, res) => {
    res.writeHead(200, { "content-length": "4242" });
    res.end();
  });
  blobs.listen(0, "127.0.0.1");
  await once(blobs, "listening");
  blobsUrl = `http://127.0.0.1:${(blobs.address() as { port: number }).port}`;
});

after(async () => {
  await sp.stop();
  blobs.close();
  await rm(dir, { recursive: true, force: true });
});

const at = () => ["--addr", sp.address];

test("put with every kind of layer, then get, list and delete, in human and JSON form", async () => {
  const tarFile = join(dir, "content.tar");
  await writeFile(tarFile, await tarOf({ "workspace/hello.txt": "hello" }));
  const put = await facadectl(
    "put", "ws-cli", ...at(),
    "--base", "alpine:3.20", "--ide", "ghcr.io/acme/ide:1", "--supervisor", "ghcr.io/acme/supervisor:1",
    "--ide-layer", "ghcr.io/acme/tool-a:1", "--ide-layer", "ghcr.io/acme/tool-b:1",
    "--content-url", `${blobsUrl}/layer.tar.gz`, "--digest", DIGEST_A, "--diff-id", DIGEST_B, "--size", "123",
    "--content-tar", tarFile,
    "--content-url", `${blobsUrl}/raw.tar`, "--digest", DIGEST_B,
  );
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^id\s+ws-cli$/m);
  assert.match(put.stdout, new RegExp(`^image\\s+${sp.config.specProvider.imageRefHost.replace(/\./g, "\\.")}/remote/ws-cli:latest$`, "m"));
  assert.match(put.stdout, /^revision\s+\d+$/m);

  const get = await facadectl("get", "ws-cli", "--json", ...at());
  assert.equal(get.code, 0, get.stderr);
  const stored = JSON.parse(get.stdout);
  assert.equal(stored.id, "ws-cli");
  assert.equal(stored.imageRef, `${sp.config.specProvider.imageRefHost}/remote/ws-cli:latest`);
  assert.deepEqual(stored.spec.ideLayerRef, ["ghcr.io/acme/tool-a:1", "ghcr.io/acme/tool-b:1"]);
  assert.equal(stored.spec.supervisorRef, "ghcr.io/acme/supervisor:1");
  const [gz, tarLayer, raw] = stored.spec.contentLayer;
  assert.deepEqual(gz.remote, { url: `${blobsUrl}/layer.tar.gz`, digest: DIGEST_A, diffId: DIGEST_B, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: "123" });
  assert.ok(typeof tarLayer.direct.content === "string" && tarLayer.direct.content.length > 0, "the tar became a direct layer, in order");
  assert.deepEqual(raw.remote, { url: `${blobsUrl}/raw.tar`, digest: DIGEST_B, mediaType: "application/vnd.oci.image.layer.v1.tar", size: "4242" });

  const human = await facadectl("get", "ws-cli", ...at());
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^base\s+alpine:3\.20$/m);
  assert.match(human.stdout, /\[1\] direct tar, \d+ bytes/);

  const list = await facadectl("list", ...at());
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^ID\s+REVISION\s+UPDATED\s+BASE$/m);
  assert.match(list.stdout, /^ws-cli\s+\d+\s+\S+\s+alpine:3\.20$/m);
  const listJson = await facadectl("list", "--json", ...at());
  assert.deepEqual(JSON.parse(listJson.stdout).map((s: { id: string }) => s.id), ["ws-cli"]);

  const del = await facadectl("delete", "ws-cli", "--json", ...at());
  assert.equal(del.code, 0, del.stderr);
  assert.equal(JSON.parse(del.stdout).revision, stored.revision);
  const gone = await facadectl("get", "ws-cli", ...at());
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /NOT_FOUND: no spec for workspace ws-cli/);
});

test("a refused put exits 1 and prints the code and every bad field", async () => {
  const result = await facadectl("put", "WS", ...at(), "--base", "Not A Ref", "--content-url", "ftp://x/y", "--digest", "sha256:nothex", "--size", "1");
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /INVALID_ARGUMENT/);
  for (const field of ["id", "spec.base_ref", "spec.content_layer[0].remote.url", "spec.content_layer[0].remote.digest"]) {
    assert.ok(result.stderr.includes(`\n  ${field}: `), `${field} in:\n${result.stderr}`);
  }
});

test("a stale --expected-revision exits 1 with FAILED_PRECONDITION", async () => {
  const first = await facadectl("put", "ws-rev", "--json", ...at(), "--base", "alpine", "--expected-revision", "0");
  assert.equal(first.code, 0, first.stderr);
  const again = await facadectl("put", "ws-rev", ...at(), "--base", "alpine", "--expected-revision", "0");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /FAILED_PRECONDITION/);
});

test("wrong usage exits 2 with the command's usage", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["put", "ws-1"], /needs --base/],
    [["put", "ws-1", "--base", "alpine", "--digest", DIGEST_A], /--digest describes a --content-url/],
    [["put", "ws-1", "--base", "alpine", "--content-url", "http://x/y"], /needs --digest/],
    [["put", "ws-1", "--base", "alpine", "--content-tar", join(dir, "missing.tar")], /cannot read --content-tar/],
    [["get"], /exactly one workspace id/],
    [["get", "ws-1", "--bogus"], /bogus/],
    [["delete", "ws-1", "--expected-revision", "x"], /non-negative integer/],
  ];
  for (const [args, message] of cases) {
    const result = await facadectl(...args, ...at());
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.match(result.stderr, /usage: facadectl /);
  }
  const unknown = await facadectl("frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const help = await facadectl("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /commands:\n\s+put/);
});

test("an unreachable spec-provider exits 1 with UNAVAILABLE", async () => {
  const result = await facadectl("list", "--addr", `127.0.0.1:${await freePort()}`);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /UNAVAILABLE/);
});

test("watch --json prints one JSON event per line until interrupted, then exits 0", async () => {
  await sp.put("ws-before", { baseRef: "alpine" });
  const watch = startProcess("facadectl watch", process.execPath, [FACADECTL, "watch", "--initial", "--json", ...at()], { cwd: ROOT });
  const lines: string[] = [];
  createInterface({ input: watch.child.stdout! }).on("line", (line) => lines.push(line));
  try {
    await waitUntil("the initial state", async () => lines.some((l) => l.includes("ws-before")), { process: watch });
    await sp.put("ws-during", { baseRef: "ubuntu" });
    await waitUntil("the live put", async () => lines.some((l) => l.includes("ws-during")), { process: watch });
    const events = lines.map((line) => JSON.parse(line));
    const index = (test: (e: { kind: string; id?: string }) => boolean) => events.findIndex(test);
    const synced = index((e) => e.kind === "KIND_SYNCED");
    assert.ok(index((e) => e.id === "ws-before") < synced && synced < index((e) => e.id === "ws-during"), lines.join("\n"));
    const during = events.find((e) => e.id === "ws-during");
    assert.equal(during.kind, "KIND_PUT");
    assert.equal(during.stored.spec.baseRef, "ubuntu");
    watch.child.kill("SIGINT");
    assert.equal(await watch.exited, 0, watch.log);
  } finally {
    watch.kill();
  }
});

test("the spec-provider executable serves its configured port and exits 0 on SIGTERM; a bad config exits 2 naming the key", async () => {
  const port = await freePort();
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ logLevel: "warn", specProvider: { port, store: { type: "file", path: join(dir, "bin-specs") } } }));
  const server = startProcess("spec-provider", process.execPath, ["--import", "tsx", "services/spec-provider/bin.ts", "--config", config], { cwd: ROOT });
  try {
    let put: CliResult | undefined;
    await waitUntil("spec-provider", async () => (put = await facadectl("put", "ws-bin", "--addr", `127.0.0.1:${port}`, "--base", "alpine")).code === 0, { process: server });
    assert.match(put!.stdout, /ws-bin/);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0, server.log);
  } finally {
    server.kill();
  }

  await writeFile(config, JSON.stringify({ specProvider: { prot: 1 } }));
  const bad = startProcess("spec-provider", process.execPath, ["--import", "tsx", "services/spec-provider/bin.ts", "--config", config], { cwd: ROOT });
  assert.equal(await bad.exited, 2);
  assert.match(bad.log, /specProvider\.prot: unknown key/);
});
