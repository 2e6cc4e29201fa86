import { constants } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { canConnect } from "../../tests/support/process.ts";
import { localConfig, type AddressTable } from "./addresses.ts";
import { facadeProcess, type ComposeService } from "./compose.ts";

/** How one compose service runs as a local process, and how to tell it is ready. */
export interface Launch {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** What a user connects to, printed when the cluster is up. */
  address: string;
  ready(): Promise<boolean>;
}

export interface LaunchContext {
  root: string;
  dataDir: string;
  table: AddressTable;
}

/** Services compose runs that have no local equivalent here; the reason is printed instead. */
const NOT_LOCAL: Array<[RegExp, string]> = [[/^jaegertracing\//, "spans are in logs/otel-collector.log instead (see otel-collector)"]];

/** The launch of a service, a reason it is not run locally, or an error for an image this script does not know. */
export async function launchFor(service: ComposeService, context: LaunchContext): Promise<Launch | string> {
  const { table, dataDir } = context;
  const image = service.image ?? "";
  const notLocal = NOT_LOCAL.find(([pattern]) => pattern.test(image));
  if (notLocal) return notLocal[1];
  const dir = join(dataDir, service.name);
  await mkdir(dir, { recursive: true });
  const facade = facadeProcess(service);
  if (facade) {
    const raw = JSON.parse(await readFile(facade.configFile, "utf8")) as Record<string, unknown>;
    const config = localConfig(raw, service, facade, table, dataDir);
    const configFile = join(dir, "config.json");
    await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const section = config[facade.kind === "registry" ? "registry" : "specProvider"] as { port: number };
    const address = `127.0.0.1:${section.port}`;
    // Compose's OTEL_* settings with addresses made local, in the JSON the
    // local sink reads; the user's own OTEL_* variables win (their collector).
    const otel = Object.entries(service.environment).filter(([name]) => name.startsWith("OTEL_"));
    return {
      command: process.execPath,
      args: ["--import", "tsx", join(context.root, facade.source), "--config", configFile],
      env: { ...Object.fromEntries(otel.map(([name, value]) => [name, table.rewrite(value, service.name)])), OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", ...process.env },
      address: facade.kind === "registry" ? `http://${address}/v2/` : `${address} (gRPC)`,
      ready: facade.kind === "registry" ? () => answers200(`http://${address}/v2/`) : () => canConnect(section.port),
    };
  }
  if (/^nats(:|$)/.test(image)) {
    if (!service.command.includes("-js")) throw new Error(`${service.name}: the facade needs JetStream (-js)`);
    const port = table.port(service.name, 4222);
    return {
      command: "nats-server",
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
      env: process.env,
      address: `nats://127.0.0.1:${port}`,
      ready: () => canConnect(port),
    };
  }
  if (/^registry:2/.test(image)) {
    const port = table.port(service.name, 5000);
    const config = join(dir, "config.yml");
    await writeFile(
      config,
      ["version: 0.1", "log: {level: warn}", `storage: {filesystem: {rootdirectory: ${join(dir, "data")}}, delete: {enabled: true}}`, `http: {addr: 127.0.0.1:${port}}`, ""].join("\n"),
    );
    return { command: "docker-registry", args: ["serve", config], env: process.env, address: `http://127.0.0.1:${port}/v2/`, ready: () => answers200(`http://127.0.0.1:${port}/v2/`) };
  }
  if (/^otel\/opentelemetry-collector/.test(image)) {
    const flag = service.command.find((arg) => arg.startsWith("--config="));
    const mounted = service.mounts.find((m) => m.bind && `--config=${m.target}` === flag);
    if (!mounted) throw new Error(`${service.name}: no collector configuration mounted at its --config`);
    const receivers = (parse(await readFile(mounted.source, "utf8")) as { receivers: { otlp: { protocols: { http: { endpoint: string } } } } }).receivers;
    const endpoint = receivers.otlp.protocols.http.endpoint;
    const port = table.port(service.name, Number(endpoint.slice(endpoint.lastIndexOf(":") + 1)));
    return {
      command: process.execPath,
      args: ["--import", "tsx", join(context.root, "scripts/dev-cluster/otlp-sink.ts"), String(port)],
      env: process.env,
      address: `http://127.0.0.1:${port} (OTLP/HTTP; no collector in Debian: spans go to its log as OTLP/JSON)`,
      ready: () => canConnect(port),
    };
  }
  if (/^prom\/prometheus/.test(image)) {
    const mounted = service.mounts.find((m) => m.bind && m.target === "/etc/prometheus/prometheus.yml");
    if (!mounted) throw new Error(`${service.name}: no prometheus.yml mounted`);
    const config = join(dir, "prometheus.yml");
    await writeFile(config, table.rewrite(await readFile(mounted.source, "utf8"), service.name));
    const port = table.port(service.name, 9090);
    if (!(await onPath("prometheus"))) return `prometheus is not installed (apt-get install prometheus); its configuration is ${config}`;
    return {
      command: "prometheus",
      args: [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
      env: process.env,
      address: `http://127.0.0.1:${port}/targets`,
      ready: () => answers200(`http://127.0.0.1:${port}/-/ready`),
    };
  }
  throw new Error(`${service.name}: no local way to run image ${JSON.stringify(image)}; teach scripts/dev-cluster/launchers.ts`);
}

async function answers200(url: string): Promise<boolean> {
  const res = await fetch(url);
  await res.body?.cancel();
  return res.status === 200;
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    try {
      await access(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}
