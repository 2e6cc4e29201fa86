import { before, test } from "node:test";
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../services/shared/config/load.ts";
import type { Config } from "../../services/shared/config/schema.ts";
import { facadeProcess, loadCompose, type ComposeService, type FacadeProcess } from "../../scripts/dev-cluster/compose.ts";
import { ROOT } from "../support/facadectl.ts";

/**
 * docker-compose.yml cannot run here (no Docker), so this checks what would
 * break it: commands naming bins that exist, config files that load, and
 * every host name and port agreeing between compose and the files it mounts.
 */
let services: Map<string, ComposeService>;
let facades: Array<{ service: ComposeService; process: FacadeProcess; config: Config }>;

before(async () => {
  services = await loadCompose(ROOT);
  facades = [];
  for (const service of services.values()) {
    const process = facadeProcess(service);
    if (process) facades.push({ service, process, config: await loadConfig(process.configFile) });
  }
});

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(":") + 1));
const hostOf = (addr: string) => addr.slice(0, addr.lastIndexOf(":"));
const running = (kind: FacadeProcess["kind"]) => facades.filter((f) => f.process.kind === kind);
const service = (name: string) => {
  const found = services.get(name);
  assert.ok(found, `compose has a service ${name}`);
  return found;
};

test("facade services are built from the Dockerfile and run bins the build emits", async () => {
  await access(join(ROOT, "Dockerfile"));
  const build = JSON.parse(await readFile(join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] };
  assert.ok(build.include.includes("services"), "tsconfig.build.json compiles services/ into dist/services/");
  assert.deepEqual(new Set(facades.map((f) => f.process.kind)), new Set(["registry", "spec-provider"]));
  for (const { service, process } of facades) {
    await access(join(ROOT, process.source)).catch(() => assert.fail(`${service.name} runs ${process.source}, which does not exist`));
  }
  // The image's default command too.
  const cmd = /^CMD \["([^"]+)"/m.exec(await readFile(join(ROOT, "Dockerfile"), "utf8"))?.[1];
  assert.match(cmd ?? "", /^dist\/services\/registry\/bin\.js$/);
});

test("every mounted file exists, and every facade config passes the schema", async () => {
  for (const s of services.values()) {
    for (const mount of s.mounts.filter((m) => m.bind)) await access(mount.source).catch(() => assert.fail(`${s.name} mounts missing ${mount.source}`));
  }
  assert.ok(facades.length >= 3);
});

test("two registry replicas on different host ports, each publishing registry.port", () => {
  const registries = running("registry");
  assert.equal(registries.length, 2);
  const hostPorts = registries.map(({ service, config }) => {
    assert.equal(config.registry.host, "0.0.0.0", `${service.name} listens beyond its container's loopback`);
    const published = service.published.find((p) => p.container === config.registry.port);
    assert.ok(published, `${service.name} publishes registry.port ${config.registry.port}`);
    return published.host;
  });
  assert.notEqual(hostPorts[0], hostPorts[1]);
  // Named volumes hold the cache, so it survives a restart.
  for (const { service, config } of registries) {
    const volume = service.mounts.find((m) => !m.bind && config.registry.store.startsWith(m.target));
    assert.ok(volume, `${service.name}: registry.store ${config.registry.store} is on a volume`);
  }
});

test("addresses in the configs name compose services and ports they publish or expose", () => {
  const published = new Set([...services.values()].flatMap((s) => s.published.map((p) => p.host)));
  for (const { service: self, config } of facades) {
    for (const addr of JSON.stringify(config).match(/[A-Za-z0-9][A-Za-z0-9.-]*:\d{1,5}(?!\d)/g) ?? []) {
      const host = hostOf(addr);
      const port = portOf(addr);
      if (host === "0.0.0.0") assert.ok(self.containerPorts.includes(port), `${self.name} listens on ${addr} but does not expose it`);
      else if (host === "127.0.0.1") assert.ok(published.has(port), `${addr} (seen from the host) is not a published port`);
      else assert.ok(service(host).containerPorts.includes(port), `${self.name}'s config names ${addr}, which ${host} does not expose`);
    }
  }
});

test("each connection lands on the right kind of service", () => {
  const [specProvider] = running("spec-provider");
  assert.ok(specProvider);
  assert.equal(specProvider.config.specProvider.host, "0.0.0.0");
  assert.ok(specProvider.service.published.some((p) => p.container === specProvider.config.specProvider.port), "facadectl reaches the spec-provider from the host");
  assert.equal(specProvider.config.specProvider.store.type, "nats-kv", "one store shared through NATS, not a container's disk");
  for (const { service: s, config } of running("registry")) {
    for (const { addr } of config.registry.remoteSpecProvider) {
      assert.equal(hostOf(addr), specProvider.service.name, `${s.name} asks the spec-provider`);
      assert.equal(portOf(addr), specProvider.config.specProvider.port);
    }
    for (const url of config.nats?.servers ?? []) {
      const nats = service(new URL(url).hostname);
      assert.match(nats.image ?? "", /^nats:/);
      assert.ok(nats.command.includes("-js"), "JetStream is on");
      assert.equal(nats.command[nats.command.indexOf("-p") + 1], new URL(url).port);
    }
    for (const insecure of config.registry.insecureRegistries) {
      const upstream = service(hostOf(insecure));
      assert.match(upstream.image ?? "", /^registry:2/);
      assert.equal(portOf(upstream.environment["REGISTRY_HTTP_ADDR"] ?? ""), portOf(insecure));
    }
  }
  // PutSpec's image_ref must be pullable from the host: a registry's published port.
  const imageRefPort = portOf(specProvider.config.specProvider.imageRefHost);
  const target = running("registry").find(({ service: s, config }) => s.published.some((p) => p.host === imageRefPort && p.container === config.registry.port));
  assert.ok(target, `imageRefHost ${specProvider.config.specProvider.imageRefHost} is a registry replica`);
});

test("registry health checks ask /ready on readinessProbeAddr", () => {
  for (const { service: s, config } of running("registry")) {
    assert.ok(config.readinessProbeAddr);
    const url = /https?:\/\/[^'"\s)]+/.exec((s.healthcheck ?? []).join(" "))?.[0];
    assert.ok(url, `${s.name} has a health check`);
    assert.equal(new URL(url).port, String(portOf(config.readinessProbeAddr)));
    assert.equal(new URL(url).pathname, "/ready");
  }
});

test("prometheus scrapes exactly the facade processes at prometheusAddr", async () => {
  const prometheus = service("prometheus");
  const mount = prometheus.mounts.find((m) => m.target === "/etc/prometheus/prometheus.yml");
  assert.ok(mount);
  const doc = parse(await readFile(mount.source, "utf8")) as { scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }> };
  const targets = doc.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets.map((t) => `${job.job_name} ${t}`))).sort();
  const expected = facades.map(({ service: s, process, config }) => {
    assert.ok(config.prometheusAddr, `${s.name} has prometheusAddr`);
    return `${process.kind} ${s.name}:${portOf(config.prometheusAddr)}`;
  });
  assert.deepEqual(targets, expected.sort());
});

test("traces go from every facade process to the collector, and from there to Jaeger", async () => {
  const collector = service("otel-collector");
  const mount = collector.mounts.find((m) => m.bind);
  assert.ok(mount && collector.command.includes(`--config=${mount.target}`), "the collector reads the mounted config");
  type Otel = {
    receivers: { otlp: { protocols: Record<"grpc" | "http", { endpoint: string }> } };
    exporters: Record<string, { endpoint: string }>;
    service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
  };
  const otel = parse(await readFile(mount.source, "utf8")) as Otel;
  const httpPort = portOf(otel.receivers.otlp.protocols.http.endpoint);
  assert.ok(collector.containerPorts.includes(httpPort));
  for (const { service: s } of facades) {
    assert.equal(s.environment["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf", s.name);
    const endpoint = new URL(s.environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "");
    assert.equal(endpoint.hostname, collector.name, `${s.name} sends traces to the collector`);
    assert.equal(Number(endpoint.port), httpPort, `${s.name} uses the collector's OTLP/HTTP port`);
    assert.ok(s.environment["OTEL_SERVICE_NAME"], `${s.name} names itself in traces`);
  }
  const pipeline = otel.service.pipelines.traces;
  assert.ok(pipeline.receivers.includes("otlp"));
  for (const name of pipeline.exporters) {
    const exporter = otel.exporters[name];
    assert.ok(exporter, `exporter ${name} is defined`);
    const jaeger = service(hostOf(exporter.endpoint));
    assert.match(jaeger.image ?? "", /^jaegertracing\//);
    assert.equal(jaeger.environment["COLLECTOR_OTLP_ENABLED"], "true");
    assert.ok(jaeger.containerPorts.includes(portOf(exporter.endpoint)));
  }
});
