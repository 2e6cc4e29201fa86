import { before, test } from "node:test";
import assert from "node:assert/strict";
import { access, readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../../services/shared/config/load.ts";
import type { Config } from "../../services/shared/config/schema.ts";
import { ROOT } from "../support/facadectl.ts";

/**
 * deploy/kubernetes cannot be applied here; this checks what would make it
 * fail on a cluster: a config the services refuse, commands naming missing
 * bins, ports and probes off the configured ones, selectors matching nothing.
 */
interface Port { name?: string; containerPort: number; hostPort?: number }
interface Probe { httpGet?: { path: string; port: number | string }; grpc?: { port: number } }
interface Container {
  name: string;
  image: string;
  args: string[];
  ports?: Port[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Volume { name: string; configMap?: { name: string }; emptyDir?: { sizeLimit?: string }; hostPath?: { path: string } }
interface PodSpec { containers: Container[]; initContainers?: Container[]; volumes?: Volume[]; securityContext?: { runAsNonRoot?: boolean } }
interface Workload { kind: string; metadata: { name: string }; spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } } }
interface Service { kind: "Service"; metadata: { name: string }; spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: number | string }> } }

const DIR = join(ROOT, "deploy/kubernetes");
let docs: Array<{ kind: string; metadata: { name: string } } & Record<string, unknown>>;
let config: Config;
let registry: Workload;
let specProvider: Workload;

before(async () => {
  docs = [];
  for (const file of (await readdir(DIR)).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(DIR, file), "utf8"))) {
      assert.deepEqual(doc.errors, [], file);
      docs.push(doc.toJS());
    }
  }
  const configMap = docs.find((d) => d.kind === "ConfigMap") as unknown as { data: Record<string, string> };
  config = parseConfig(JSON.parse(configMap.data["config.json"] ?? ""), "deploy/kubernetes ConfigMap");
  registry = find("DaemonSet", "registry-facade");
  specProvider = find("Deployment", "spec-provider");
});

function find<T = Workload>(kind: string, name: string): T {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(doc, `${kind}/${name}`);
  return doc as unknown as T;
}
const workloads = () => [registry, specProvider];
const container = (w: Workload) => w.spec.template.spec.containers[0] as Container;
const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(":") + 1));
/** A probe's or service's port, by number or by the container port's name. */
const resolvePort = (c: Container, port: number | string) => (typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort);

test("every container runs a bin the build emits, reading the ConfigMap's config", async () => {
  for (const w of workloads()) {
    const pod = w.spec.template.spec;
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const [bin = ""] = c.args;
      assert.match(bin, /^dist\/services\/.+\.js$/, `${c.name} runs a built bin`);
      await access(join(ROOT, bin.replace(/^dist\//, "").replace(/\.js$/, ".ts"))).catch(() => assert.fail(`${c.name}: ${bin} has no source`));
    }
    const c = container(w);
    const configPath = c.args[c.args.indexOf("--config") + 1] ?? "";
    const mount = c.volumeMounts?.find((m) => m.mountPath === posix.dirname(configPath));
    const volume = pod.volumes?.find((v) => v.name === mount?.name);
    assert.equal(volume?.configMap?.name, "registry-facade-config", `${w.metadata.name} reads the ConfigMap at --config`);
    assert.equal(posix.basename(configPath), "config.json");
  }
});

test("selectors match the pod labels, and every pod runs non-root with resource requests", () => {
  for (const w of workloads()) {
    const labels = w.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.equal(labels[k], v, `${w.metadata.name} selects its own pods`);
    const c = container(w);
    assert.ok(c.securityContext?.runAsNonRoot ?? w.spec.template.spec.securityContext?.runAsNonRoot, `${c.name} runs as non-root`);
    assert.ok(c.resources?.requests?.["cpu"] && c.resources.requests["memory"], `${c.name} requests resources`);
  }
  for (const service of docs.filter((d): d is Service & typeof d => d.kind === "Service")) {
    const target = workloads().find((w) => Object.entries(service.spec.selector).every(([k, v]) => w.spec.template.metadata.labels[k] === v));
    assert.ok(target, `Service ${service.metadata.name} selects a workload`);
    for (const port of service.spec.ports) assert.ok(resolvePort(container(target), port.targetPort), `Service ${service.metadata.name} port ${port.name} reaches a container port`);
  }
});

test("the registry DaemonSet listens, probes and caches where the config says", () => {
  const c = container(registry);
  const port = c.ports?.find((p) => p.containerPort === config.registry.port);
  assert.ok(port?.hostPort, "registry.port is a hostPort: containerd on the node pulls through it");
  assert.equal(config.registry.host, "0.0.0.0");
  assert.ok(c.ports?.some((p) => p.containerPort === portOf(config.prometheusAddr ?? "")), "prometheusAddr is a container port");
  const probes = portOf(config.readinessProbeAddr ?? "");
  assert.deepEqual([c.readinessProbe?.httpGet?.path, resolvePort(c, c.readinessProbe?.httpGet?.port ?? "")], ["/ready", probes]);
  assert.deepEqual([c.livenessProbe?.httpGet?.path, resolvePort(c, c.livenessProbe?.httpGet?.port ?? "")], ["/live", probes]);

  const cacheMount = c.volumeMounts?.find((m) => config.registry.store.startsWith(`${m.mountPath}/`) || config.registry.store === m.mountPath);
  assert.ok(cacheMount, `registry.store ${config.registry.store} is on a volume`);
  const cache = registry.spec.template.spec.volumes?.find((v) => v.name === cacheMount.name);
  assert.ok(cache?.emptyDir || cache?.hostPath);
  if (cache.emptyDir?.sizeLimit) assert.ok(gibibytes(cache.emptyDir.sizeLimit) * 1024 ** 3 > config.registry.storeMaxBytes, "the volume holds storeMaxBytes");
});

test("the init container maps imageRefHost to this node's hostPort in containerd's certs.d", () => {
  const init = registry.spec.template.spec.initContainers?.find((c) => c.args.includes("setup"));
  assert.ok(init);
  const arg = (name: string) => init.args[init.args.indexOf(name) + 1];
  assert.deepEqual(init.args.slice(1, 3), ["setup", "containerd"]);
  assert.equal(arg("--host"), config.specProvider.imageRefHost, "the host PutSpec's image_ref names");
  const hostPort = container(registry).ports?.find((p) => p.containerPort === config.registry.port)?.hostPort;
  assert.equal(arg("--endpoint"), `http://$(NODE_IP):${hostPort}`);
  const mount = init.volumeMounts?.find((m) => m.mountPath === arg("--config-dir"));
  const volume = registry.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  assert.equal(volume?.hostPath?.path, "/etc/containerd/certs.d");
});

test("the spec-provider Deployment serves gRPC on specProvider.port and the registries reach it through its Service", () => {
  const c = container(specProvider);
  assert.ok(c.ports?.some((p) => p.containerPort === config.specProvider.port));
  assert.equal(c.readinessProbe?.grpc?.port, config.specProvider.port);
  assert.equal(c.livenessProbe?.grpc?.port, config.specProvider.port);
  assert.equal(config.specProvider.store.type, "nats-kv", "replicas share one store");
  assert.ok(config.nats);

  for (const { addr } of config.registry.remoteSpecProvider) {
    const service = find<Service>("Service", addr.slice(0, addr.lastIndexOf(":")));
    const port = service.spec.ports.find((p) => p.port === portOf(addr));
    assert.ok(port, `Service ${service.metadata.name} has port ${portOf(addr)}`);
    assert.equal(resolvePort(c, port.targetPort), config.specProvider.port);
  }
});

function gibibytes(quantity: string): number {
  const match = /^(\d+)Gi$/.exec(quantity);
  assert.ok(match, `sizeLimit ${quantity} in Gi`);
  return Number(match[1]);
}
