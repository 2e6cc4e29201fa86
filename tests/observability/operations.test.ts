import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer, type BuiltImage } from "../support/images.ts";
import { freePort, waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { putSpec, startService, type ServiceProcess } from "../support/services.ts";

/**
 * What an operator checks on a node: /metrics of both services after a real
 * pull, and /ready of the registry following the spec-provider.
 */
let dir: string;
let upstream: UpstreamRegistry;
let built: BuiltImage;
let baseRef: string;
let specProviderPort: number;
let specProvider: ServiceProcess;
let registry: ServiceProcess;

const startSpecProvider = () => startService("spec-provider", { specProvider: { port: specProviderPort, store: { type: "file", path: join(dir, "specs") } } });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-ops-"));
  upstream = await UpstreamRegistry.start();
  built = image({ family: "oci", layers: [await layer([{ path: "a.txt", content: "metrics\n".repeat(1000) }]), await layer([{ path: "b.txt", content: "more\n" }])] });
  baseRef = await upstream.pushImage("ops", "1", built);
  specProviderPort = await freePort();
  specProvider = await startSpecProvider();
  registry = await startService("registry", { registry: { port: 0, store: join(dir, "store"), remoteSpecProvider: [{ addr: `127.0.0.1:${specProviderPort}` }], specProviderTimeoutMs: 1000 } });
});
after(async () => {
  await registry?.stop();
  await specProvider?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** One scrape as Prometheus sees it: every sample by its full series name. */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const value = (samples: Map<string, number>, series: string) => samples.get(series) ?? 0;
/** Sum of every series of a metric whose labels include all of these. */
function sum(samples: Map<string, number>, metric: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [series, v] of samples) {
    if (!series.startsWith(`${metric}{`) && series !== metric) continue;
    if (Object.entries(labels).every(([k, want]) => series.includes(`${k}="${want}"`))) total += v;
  }
  return total;
}

async function pull(id: string): Promise<void> {
  const base = `http://127.0.0.1:${registry.port}/v2/remote/${id}`;
  const res = await fetch(`${base}/manifests/latest`, { headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
  assert.equal(res.status, 200);
  const manifest = (await res.json()) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const digest of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
    const blob = await fetch(`${base}/blobs/${digest}`);
    assert.equal(blob.status, 200);
    await blob.arrayBuffer();
  }
}

test("a pull moves the registry's request, composition, upstream and blob counters, and the spec-provider's RPC counters", async () => {
  const R = "registry_facade_";
  const registryBefore = await scrape(registry.metricsUrl);
  const providerBefore = await scrape(specProvider.metricsUrl);
  await putSpec(`127.0.0.1:${specProviderPort}`, "ops-ws", { baseRef });
  await pull("ops-ws");
  // Pulled again: the composition comes from memory this time.
  await (await fetch(`http://127.0.0.1:${registry.port}/v2/remote/ops-ws/manifests/latest`)).arrayBuffer();
  const missing = await fetch(`http://127.0.0.1:${registry.port}/v2/remote/no-such-ws/manifests/latest`);
  assert.equal(missing.status, 404);

  // The access log line is written when the response closes; give the last one a moment.
  let registryAfter = await scrape(registry.metricsUrl);
  await waitUntil("blob requests counted", async () => {
    registryAfter = await scrape(registry.metricsUrl);
    return sum(registryAfter, `${R}http_requests_total`, { route: "blob" }) - sum(registryBefore, `${R}http_requests_total`, { route: "blob" }) === 3;
  });
  const delta = (metric: string, labels: Record<string, string> = {}) => sum(registryAfter, metric, labels) - sum(registryBefore, metric, labels);
  assert.equal(delta(`${R}http_requests_total`, { route: "manifest", method: "GET", status: "200" }), 2);
  assert.equal(delta(`${R}http_requests_total`, { route: "manifest", method: "GET", status: "404" }), 1);
  assert.equal(delta(`${R}http_request_duration_seconds_count`, { route: "blob", status: "200" }), 3);
  assert.equal(delta(`${R}manifest_composition_duration_seconds_count`, { result: "ok" }), 1);
  assert.equal(delta(`${R}cache_lookups_total`, { tier: "manifest", result: "miss" }), 1);
  assert.equal(delta(`${R}cache_lookups_total`, { tier: "manifest", result: "hit" }), 1);
  assert.equal(delta(`${R}cache_lookups_total`, { tier: "blob", result: "miss" }), built.layers.length, "each layer fetched into the blob cache once");
  const layerBytes = built.layers.reduce((n, l) => n + l.size, 0);
  assert.equal(delta(`${R}blob_bytes_served_total`), layerBytes + built.config.length, "every body byte, by source");
  assert.equal(delta(`${R}blob_bytes_served_total`, { source: "store" }), built.config.length, "the composed config comes from the store");
  assert.ok(delta(`${R}upstream_request_duration_seconds_count`, { host: upstream.host, status: "200" }) >= 3, "tag, manifest, config and layers fetched upstream");
  assert.equal(value(registryAfter, `${R}blob_streams_in_flight`), 0);
  assert.ok(delta(`${R}spec_lookup_duration_seconds_count`, { source: "remote", result: "found" }) >= 1);
  assert.ok(delta(`${R}spec_lookup_duration_seconds_count`, { source: "remote", result: "not_found" }) >= 1);

  const providerAfter = await scrape(specProvider.metricsUrl);
  const rpc = (labels: Record<string, string>) => sum(providerAfter, `${R}grpc_server_handled_total`, labels) - sum(providerBefore, `${R}grpc_server_handled_total`, labels);
  assert.equal(rpc({ method: "PutSpec", code: "OK" }), 1);
  assert.ok(rpc({ method: "GetImageSpec", code: "OK" }) >= 1);
  assert.ok(rpc({ method: "GetImageSpec", code: "NOT_FOUND" }) >= 1);
  assert.ok(sum(providerAfter, `${R}grpc_server_handling_seconds_count`, { method: "PutSpec" }) >= 1);
  assert.equal(value(providerAfter, `${R}spec_store_specs`), 1);
  assert.ok(value(providerAfter, `${R}process_resident_memory_bytes`) > 0, "process metrics in the same namespace");
});

test("pulled again, the layers come from the blob cache, and their bytes are counted as such", async () => {
  const R = "registry_facade_";
  // The first pull's fetches commit their files just after the last byte went
  // out; a GET before that joins the fetch instead of reading the cache.
  const layerBytes = built.layers.reduce((n, l) => n + l.size, 0);
  await waitUntil("the first pull's layers committed to the blob cache", async () => value(await scrape(registry.metricsUrl), `${R}blob_cache_bytes`) === layerBytes);
  const before = await scrape(registry.metricsUrl);
  await pull("ops-ws");
  let after = before;
  await waitUntil("the second pull counted", async () => {
    after = await scrape(registry.metricsUrl);
    return sum(after, `${R}http_requests_total`, { route: "blob" }) - sum(before, `${R}http_requests_total`, { route: "blob" }) === 3;
  });
  const delta = (labels: Record<string, string>) => sum(after, `${R}blob_bytes_served_total`, labels) - sum(before, `${R}blob_bytes_served_total`, labels);
  assert.equal(delta({ source: "cache" }), layerBytes);
  assert.equal(delta({ source: "upstream" }), 0);
  assert.equal(sum(after, `${R}cache_lookups_total`, { tier: "blob", result: "hit" }) - sum(before, `${R}cache_lookups_total`, { tier: "blob", result: "hit" }), built.layers.length);
  assert.equal(value(after, `${R}blob_streams_in_flight`), 0);
});

test("an upstream that does not answer is counted as an upstream error of its host", async () => {
  const R = "registry_facade_";
  const deadHost = `127.0.0.1:${await freePort()}`;
  await putSpec(`127.0.0.1:${specProviderPort}`, "ops-dead-base", { baseRef: `${deadHost}/gone:1` });
  const before = await scrape(registry.metricsUrl);
  const res = await fetch(`http://127.0.0.1:${registry.port}/v2/remote/ops-dead-base/manifests/latest`);
  assert.equal(res.status, 503);
  await res.arrayBuffer();
  const after = await scrape(registry.metricsUrl);
  const errors = (s: Map<string, number>) => sum(s, `${R}upstream_request_errors_total`, { host: deadHost, kind: "network" });
  assert.ok(errors(after) - errors(before) >= 1);
  assert.equal(sum(after, `${R}manifest_composition_duration_seconds_count`, { result: "error" }) - sum(before, `${R}manifest_composition_duration_seconds_count`, { result: "error" }), 1);
});

test("/ready follows the spec-provider: 503 naming it while it is down, 200 again once it is back; /live stays 200", async () => {
  const ready = async () => {
    const res = await fetch(`${registry.probeUrl}/ready`);
    return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, string> } };
  };
  // The first /ready also dials the spec-provider, within the check's 800 ms deadline; on a
  // loaded machine the dial alone can take longer. A kubelet asks again; so does the test.
  let first = await ready();
  await waitUntil("registry ready", async () => (first = await ready()).status === 200).catch(() => undefined);
  assert.deepEqual(first, { status: 200, body: { ready: true, checks: { store: "ok", specProvider: "ok" } } });
  assert.equal((await fetch(`${specProvider.probeUrl}/ready`)).status, 200);

  await specProvider.stop();
  await waitUntil("registry not ready", async () => (await ready()).status === 503);
  const down = await ready();
  assert.equal(down.body.ready, false);
  assert.match(down.body.checks["specProvider"] ?? "", /no spec-provider serving \(127\.0\.0\.1:\d+: /);
  assert.equal((await fetch(`${registry.probeUrl}/live`)).status, 200);
  // A pull of a workspace no cache knows is a 503 meanwhile (runtimes retry), counted as a failed call of that provider.
  const errors = async () => sum(await scrape(registry.metricsUrl), "registry_facade_spec_lookup_errors_total", { provider: `127.0.0.1:${specProviderPort}`, code: "UNAVAILABLE" });
  const errorsBefore = await errors();
  assert.equal((await fetch(`http://127.0.0.1:${registry.port}/v2/remote/ops-uncached/manifests/latest`)).status, 503);
  assert.equal((await errors()) - errorsBefore, 1);

  specProvider = await startSpecProvider();
  await waitUntil("registry ready again", async () => (await ready()).status === 200, { timeoutMs: 20_000 });
});

/** Every series name a scrape can have: each family of a "# TYPE" line, a histogram with its _bucket, _sum and _count. */
async function exportedNames(url: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const line of (await (await fetch(url)).text()).split("\n")) {
    const [, name, type] = /^# TYPE (\S+) (\S+)$/.exec(line) ?? [];
    if (!name) continue;
    names.add(name);
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
  }
  return names;
}

test("the Grafana dashboard queries only metrics the services export, and graphs every one of theirs", async () => {
  const dashboard = await readFile(new URL("../../deploy/grafana/registry-facade.json", import.meta.url), "utf8");
  const queried = new Set(dashboard.match(/registry_facade_[a-z0-9_]+/g));
  const exported = new Set([...(await exportedNames(registry.metricsUrl)), ...(await exportedNames(specProvider.metricsUrl))]);
  assert.deepEqual([...queried].filter((name) => !exported.has(name)), [], "queried but not exported");
  // The services' own metrics (not the runtime's process_ and nodejs_ ones) each have a panel.
  const own = [...exported].filter((name) => !/^registry_facade_(process|nodejs)_/.test(name) && !/_(sum|count|bucket)$/.test(name));
  const graphed = (name: string) => [...queried].some((q) => q === name || q.startsWith(`${name}_`));
  assert.deepEqual(own.filter((name) => !graphed(name)), [], "exported but on no panel");
});
