import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, facadectl } from "../support/facadectl.ts";
import { image, layer } from "../support/images.ts";
import { readLayout, run, skopeoCopy, umociUnpack } from "../support/oci-clients.ts";
import { startProcess, waitUntil, type TestProcess } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/**
 * scripts/dev-cluster.ts: every compose service as a local process. A
 * workspace registered through the spec-provider is pulled through both
 * registry replicas, Prometheus scrapes what the configuration says, and a
 * SIGTERM leaves no process behind.
 */
interface ClusterFile {
  processes: Array<{ name: string; pid: number }>;
  addresses: Record<string, string>;
}

let dir: string;
let source: UpstreamRegistry;
let cluster: TestProcess;
let info: ClusterFile;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-dev-cluster-"));
  // Images come from outside the cluster, as a user's would: copied into its upstream with skopeo.
  source = await UpstreamRegistry.start();
  await source.pushImage("base", "1", image({ family: "oci", layers: [await layer([{ path: "etc/os-release", content: "ID=test\n" }])] }));
  await source.pushImage("ide", "1", image({ family: "oci", layers: [await layer([{ type: "dir", path: "ide/" }, { path: "ide/code", content: "ide\n" }])] }));
  await source.pushImage("ide", "2", image({ family: "oci", layers: [await layer([{ type: "dir", path: "ide/" }, { path: "ide/code", content: "ide v2\n" }])] }));

  // Spans exported every 100 ms instead of every 5 s, for the trace test.
  const env = { ...process.env, OTEL_BSP_SCHEDULE_DELAY: "100" };
  cluster = startProcess("dev-cluster", process.execPath, ["--import", "tsx", "scripts/dev-cluster.ts", "--dir", dir, "--ephemeral-ports"], { cwd: ROOT, env });
  await waitUntil("dev-cluster", async () => (info = JSON.parse(await readFile(join(dir, "cluster.json"), "utf8")) as ClusterFile) !== undefined, { process: cluster, timeoutMs: 60_000 });
});

after(async () => {
  await cluster?.stop(15_000);
  await source?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const at = (service: string, port: number) => {
  const address = info.addresses[`${service}:${port}`];
  assert.ok(address, `${service}:${port} in cluster.json`);
  return address;
};

test("runs every compose service that has a local equivalent", () => {
  assert.deepEqual(info.processes.map((p) => p.name), ["nats", "upstream", "otel-collector", "spec-provider", "registry-a", "registry-b", "prometheus"]);
});

test("a workspace registered with facadectl is pulled through both replicas, and a changed spec reaches both", async () => {
  const upstream = at("upstream", 5000);
  for (const tag of ["base:1", "ide:1", "ide:2"]) {
    await run("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://${source.host}/${tag}`, `docker://${upstream}/${tag}`]);
  }
  const specProvider = ["--addr", at("spec-provider", 32224)];
  const put = await facadectl("put", "ws-dev", ...specProvider, "--base", `${upstream}/base:1`, "--ide", `${upstream}/ide:1`);
  assert.equal(put.code, 0, put.stderr);
  // PutSpec names the first replica, the one imageRefHost points at.
  assert.match(put.stdout, new RegExp(`^image\\s+${at("registry-a", 32223)}/remote/ws-dev:latest$`, "m"));

  const pull = async (replica: string) => {
    const layout = await skopeoCopy(`${at(replica, 32223)}/remote/ws-dev:latest`, { parent: dir });
    const rootfs = await umociUnpack(layout);
    return { digest: (await readLayout(layout)).manifestDigest, ide: await readFile(join(rootfs, "ide/code"), "utf8"), os: await readFile(join(rootfs, "etc/os-release"), "utf8") };
  };
  const [a, b] = [await pull("registry-a"), await pull("registry-b")];
  assert.deepEqual(a, { digest: a.digest, ide: "ide\n", os: "ID=test\n" });
  assert.deepEqual(b, a, "both replicas compose the same image");

  const update = await facadectl("put", "ws-dev", ...specProvider, "--base", `${upstream}/base:1`, "--ide", `${upstream}/ide:2`);
  assert.equal(update.code, 0, update.stderr);
  for (const replica of ["registry-a", "registry-b"]) {
    const after = await pull(replica);
    assert.equal(after.ide, "ide v2\n", `${replica} serves the new spec`);
    assert.notEqual(after.digest, a.digest);
  }
});

test("the pull's trace reaches the local OTLP sink from both services", async () => {
  type Export = { path: string; resourceSpans?: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<{ traceId: string }> }> }> };
  const servicesByTrace = new Map<string, Set<string>>();
  await waitUntil("a trace through registry and spec-provider", async () => {
    const lines = (await readFile(join(dir, "logs", "otel-collector.log"), "utf8")).split("\n").filter(Boolean);
    for (const line of lines) {
      for (const resource of (JSON.parse(line) as Export).resourceSpans ?? []) {
        const service = resource.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const span of resource.scopeSpans.flatMap((s) => s.spans)) servicesByTrace.set(span.traceId, (servicesByTrace.get(span.traceId) ?? new Set()).add(service));
      }
    }
    return [...servicesByTrace.values()].some((names) => names.has("registry") && names.has("spec-provider"));
  });
});

test("prometheus scrapes every facade process at its prometheusAddr", async () => {
  let scraped: string[] = [];
  // Targets appear shortly after Prometheus reports ready, and are up after their first scrape (5 s interval).
  await waitUntil("prometheus targets up", async () => {
    const res = await fetch(`http://${at("prometheus", 9090)}/api/v1/targets`);
    const body = (await res.json()) as { data: { activeTargets: Array<{ scrapeUrl: string; labels: { job: string }; health: string }> } };
    scraped = body.data.activeTargets.map((t) => `${t.labels.job} ${t.scrapeUrl}`).sort();
    return scraped.length === 3 && body.data.activeTargets.every((t) => t.health === "up");
  });
  assert.deepEqual(scraped, [
    `registry http://${at("registry-a", 9500)}/metrics`,
    `registry http://${at("registry-b", 9500)}/metrics`,
    `spec-provider http://${at("spec-provider", 9500)}/metrics`,
  ].sort());
  // The same ports the processes were configured with.
  const config = JSON.parse(await readFile(join(dir, "registry-b", "config.json"), "utf8")) as { prometheusAddr: string };
  assert.equal(config.prometheusAddr, at("registry-b", 9500));
});

test("SIGTERM stops every process it started and removes cluster.json", async () => {
  await cluster.stop(15_000);
  assert.equal(await cluster.exited, 0, cluster.log);
  for (const { name, pid } of info.processes) {
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `${name} (pid ${pid}) still running`);
  }
  await assert.rejects(access(join(dir, "cluster.json")), { code: "ENOENT" });
});
