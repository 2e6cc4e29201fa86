import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, access } from "node:fs/promises";
import { pino } from "pino";
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { InProcessEventBus } from "../../services/shared/events/in-process-bus.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { sha256, tarOf } from "../support/images.ts";
import { freePort, waitUntil } from "../support/process.ts";
import { readLayout, skopeoCopy, umociUnpack } from "../support/oci-clients.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { createWorld, startFacade, type Facade, type World } from "./fixture.ts";

/** remote/<id>: specs registered through the real spec-provider's management API. */
let world: World;
let provider: TestSpecProvider;
let facade: Facade;

before(async () => {
  world = await createWorld();
  // One bus for both, as npm start has: a put reaches the registry's spec cache at once.
  const eventBus = new InProcessEventBus(pino({ level: "silent" }));
  provider = await startTestSpecProvider({ eventBus });
  facade = await startFacade(world, { remoteSpecProvider: [{ addr: provider.address }], specProviderTimeoutMs: 2000 }, { eventBus });
});
after(async () => {
  await facade?.stop();
  await provider?.stop();
  await world?.dispose();
});

const exists = (path: string) => access(path).then(() => true, () => false);

async function manifestStatus(f: Facade, path: string): Promise<{ status: number; retryAfter: string | null; body: any }> {
  const res = await fetch(`${f.url}${path}`);
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: JSON.parse(await res.text()) };
}

test("a workspace registered with PutSpec is pulled by skopeo as remote/<id> and unpacked by umoci", async () => {
  const stored = await provider.put("ws-remote-1", ImageSpec.fromJSON(world.specs["oci"]));
  assert.ok(stored.imageRef.endsWith("/remote/ws-remote-1:latest"), stored.imageRef);
  const layout = await skopeoCopy(`${facade.host}/remote/ws-remote-1:latest`, { parent: world.dir });
  const rootfs = await umociUnpack(layout);
  for (const [path, content] of [
    ["etc/base.txt", "base layer 1\n"],
    ["static/from-image.txt", "static image\n"],
    ["static/from-file.txt", "static file\n"],
    ["ide/code", "ide binary\n"],
    [".supervisor/supervisor", "supervisor\n"],
    ["ide/plugin.txt", "plugin\n"],
    ["workspace/remote.txt", "remote content\n"],
    ["workspace/direct.txt", "direct content\n"],
  ] as const) {
    assert.equal(await readFile(join(rootfs, path), "utf8"), content, path);
  }
  assert.equal(await exists(join(rootfs, "opt/data/removed.txt")), false, "whiteout applied");
  const { manifest, config } = await readLayout(layout);
  assert.equal(manifest.annotations?.["org.opencontainers.image.base.digest"], world.images["baseOci"]?.manifestDigest);
  assert.equal(manifest.annotations?.["io.gitpod.workspace-image.ref"], world.refs["baseOci"]);
  assert.equal(config["rootfs"].diff_ids.length, 10);
  assert.equal(config["history"].filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, 10);
  assert.ok((config["config"].Env as string[]).includes("PATH=/ide/bin:/usr/local/bin:/usr/bin:/bin:/.supervisor"));
});

test("a changed spec changes the image; the old digest stays servable", async () => {
  await provider.put("ws-remote-2", ImageSpec.fromJSON(world.specs["plain"]));
  const first = await fetch(`${facade.url}/v2/remote/ws-remote-2/manifests/latest`);
  const firstDigest = first.headers.get("docker-content-digest");
  assert.equal((await first.json() as { layers: unknown[] }).layers.length, 5, "3 base + 2 static");
  await provider.put("ws-remote-2", ImageSpec.fromJSON({ ...world.specs["plain"], ideRef: world.refs["ide"] }));
  const second = await fetch(`${facade.url}/v2/remote/ws-remote-2/manifests/latest`);
  assert.equal((await second.json() as { layers: unknown[] }).layers.length, 6);
  assert.notEqual(second.headers.get("docker-content-digest"), firstDigest);
  assert.equal((await fetch(`${facade.url}/v2/remote/ws-remote-2/manifests/${firstDigest}`)).status, 200);
});

test("an unknown workspace id is a 404, and another workspace's blob is not served", async () => {
  const res = await manifestStatus(facade, "/v2/remote/no-such-workspace/manifests/latest");
  assert.equal(res.status, 404);
  assert.equal(res.body.errors[0].code, "MANIFEST_UNKNOWN");
  const other = (await (await fetch(`${facade.url}/v2/remote/ws-remote-1/manifests/latest`)).json()) as { layers: Array<{ digest: string }> };
  const direct = other.layers.at(-1)?.digest;
  await fetch(`${facade.url}/v2/remote/ws-remote-2/manifests/latest`);
  const blob = await manifestStatus(facade, `/v2/remote/ws-remote-2/blobs/${direct}`);
  assert.equal(blob.status, 404);
  assert.equal(blob.body.errors[0].code, "BLOB_UNKNOWN");
});

test("an id the spec-provider refuses as invalid is unknown (404), not a provider outage (503)", async () => {
  // Valid as an OCI path component, but longer than a workspace id may be.
  const res = await manifestStatus(facade, `/v2/remote/${"a".repeat(200)}/manifests/latest`);
  assert.equal(res.status, 404);
  assert.equal(res.body.errors[0].code, "MANIFEST_UNKNOWN");
});

test("providers are tried in order: one that is down does not hide a workspace, but turns a miss into 503", async () => {
  const f = await startFacade(world, { remoteSpecProvider: [{ addr: `127.0.0.1:${await freePort()}` }, { addr: provider.address }], specProviderTimeoutMs: 2000 });
  try {
    const found = await fetch(`${f.url}/v2/remote/ws-remote-1/manifests/latest`);
    assert.equal(found.status, 200);
    await found.arrayBuffer();
    // The dead provider might hold the workspace: not knowing is not "unknown".
    const miss = await manifestStatus(f, "/v2/remote/no-such-workspace/manifests/latest");
    assert.equal(miss.status, 503);
    assert.match(JSON.stringify(miss.body.errors[0].detail), /UNAVAILABLE/);
  } finally {
    await f.stop();
  }
});

test("a spec-provider that hangs past the deadline is a 503 with Retry-After, never a 404", async () => {
  const hanging = await hangingServer();
  const f = await startFacade(world, { remoteSpecProvider: [{ addr: hanging.address }], specProviderTimeoutMs: 300 });
  try {
    const started = Date.now();
    const res = await manifestStatus(f, "/v2/remote/ws-remote-1/manifests/latest");
    assert.equal(res.status, 503);
    assert.equal(res.body.errors[0].code, "UNAVAILABLE");
    assert.match(JSON.stringify(res.body.errors[0].detail), /DEADLINE_EXCEEDED/);
    assert.ok(Number(res.retryAfter) > 0, `Retry-After ${res.retryAfter}`);
    assert.ok(Date.now() - started < 5000, "the deadline bounded the wait");
  } finally {
    await f.stop();
    await hanging.stop();
  }
});

test("spec-provider stopped: 503 with Retry-After for tags not cached; cached specs, composed digests and blobs still served", async () => {
  const tag = await fetch(`${facade.url}/v2/remote/ws-remote-1/manifests/latest`);
  const digest = tag.headers.get("docker-content-digest") as string;
  const manifest = (await tag.json()) as { config: { digest: string } };
  await provider.stop();
  // Its spec was fetched just now: the spec cache answers within its TTL.
  const cached = await fetch(`${facade.url}/v2/remote/ws-remote-1/manifests/latest`);
  assert.equal(cached.status, 200);
  assert.equal(cached.headers.get("docker-content-digest"), digest);
  for (const id of ["never-seen", "no-such-workspace"]) {
    const res = await manifestStatus(facade, `/v2/remote/${id}/manifests/latest`);
    assert.equal(res.status, 503, id);
    assert.equal(res.body.errors[0].code, "UNAVAILABLE");
    assert.ok(Number(res.retryAfter) > 0);
    const head = await fetch(`${facade.url}/v2/remote/${id}/manifests/latest`, { method: "HEAD" });
    assert.equal(head.status, 503);
  }
  assert.equal((await fetch(`${facade.url}/v2/remote/ws-remote-1/manifests/${digest}`)).status, 200);
  assert.equal((await fetch(`${facade.url}/v2/remote/ws-remote-1/blobs/${manifest.config.digest}`)).status, 200);
});

/** Accepts TCP connections and never says a word: a spec-provider that hangs. */
async function hangingServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => sockets.add(s));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test("a deleted workspace's record goes at once and its stored blobs at the next sweep; what another workspace uses stays", async () => {
  const eventBus = new InProcessEventBus(pino({ level: "silent" }));
  const sweptProvider = await startTestSpecProvider({ eventBus });
  const swept = await startFacade(world, { remoteSpecProvider: [{ addr: sweptProvider.address }], storeSweepIntervalMs: 100, storeSweepGraceMs: 0 }, { eventBus });
  try {
    const direct = async (text: string) => ({ direct: { content: (await tarOf([{ path: `workspace/${text}.txt`, content: `${text}\n` }])).toString("base64") } });
    const shared = await direct("shared");
    const onlyGone = await direct("only-gone");
    const specWith = (...contentLayer: unknown[]) => ImageSpec.fromJSON({ baseRef: world.refs["baseOci"], contentLayer });
    await sweptProvider.put("ws-sweep-gone", specWith(shared, onlyGone));
    await sweptProvider.put("ws-sweep-kept", specWith(shared));
    const pull = async (id: string) => {
      const res = await fetch(`${swept.url}/v2/remote/${id}/manifests/latest`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
      assert.equal(res.status, 200, await res.clone().text());
      const manifest = (await res.json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
      return { digest: res.headers.get("docker-content-digest") as string, config: manifest.config.digest, layers: manifest.layers.map((l) => l.digest) };
    };
    const gone = await pull("ws-sweep-gone");
    const kept = await pull("ws-sweep-kept");
    const [sharedLayer, onlyGoneLayer] = gone.layers.slice(-2) as [string, string];
    assert.equal(kept.layers.at(-1), sharedLayer);
    const stored = (digest: string) => exists(join(swept.store, "blobs", "sha256", digest.slice("sha256:".length)));
    for (const digest of [gone.digest, gone.config, sharedLayer, onlyGoneLayer]) assert.ok(await stored(digest), `${digest} stored`);

    await unaryCall(sweptProvider.client.deleteSpec.bind(sweptProvider.client), { id: "ws-sweep-gone" });
    await waitUntil("the deleted workspace's manifest is unknown by digest", async () => (await fetch(`${swept.url}/v2/remote/ws-sweep-gone/manifests/${gone.digest}`)).status === 404);
    await waitUntil("its stored blobs are swept", async () => !(await stored(gone.digest)) && !(await stored(onlyGoneLayer)));
    assert.equal(await stored(gone.config), gone.config === kept.config, "its config goes unless the other workspace has the same one");
    assert.ok(await stored(sharedLayer), "the layer the other workspace uses stays");
    const blob = await fetch(`${swept.url}/v2/remote/ws-sweep-kept/blobs/${sharedLayer}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sharedLayer);
    assert.equal((await fetch(`${swept.url}/v2/remote/ws-sweep-kept/manifests/${kept.digest}`)).status, 200);

    // The same id registered again composes and stores afresh.
    await sweptProvider.put("ws-sweep-gone", specWith(shared, onlyGone));
    const again = await pull("ws-sweep-gone");
    assert.equal(again.digest, gone.digest);
    assert.equal((await fetch(`${swept.url}/v2/remote/ws-sweep-gone/blobs/${onlyGoneLayer}`)).status, 200);
  } finally {
    await swept.stop();
    await sweptProvider.stop();
  }
});
