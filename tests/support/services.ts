import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../../gen/facade/manage/v1/manage.ts";
import type { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { freePort, startProcess, waitUntil, type TestProcess } from "./process.ts";

/**
 * The services as operators run them: each bin as its own process, with a
 * configuration file and its prometheusAddr and readinessProbeAddr on free
 * loopback ports, so what these tests scrape and probe is what a node has.
 */
export interface ServiceProcess {
  process: TestProcess;
  /** The service's own port (from its "listening" log line). */
  port: number;
  /** 127.0.0.1:port */
  host: string;
  metricsUrl: string;
  probeUrl: string;
  /** Rewrites the configuration file the process runs on (config as for startService; the same operations addresses). */
  rewriteConfig(config: Record<string, unknown>): Promise<void>;
  /** Every JSON log line so far. */
  logLines(): Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

const BINS = { registry: "services/registry/bin.ts", "spec-provider": "services/spec-provider/bin.ts", "all-in-one": "services/all-in-one/bin.ts" } as const;
/** The line that says the service is up; port is the one it carries (all-in-one: the registry's). */
const LISTENING = { registry: "registry listening", "spec-provider": "spec-provider listening", "all-in-one": "registry listening" } as const;

export async function startService(kind: keyof typeof BINS, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<ServiceProcess> {
  const dir = await mkdtemp(join(tmpdir(), `facade-${kind}-`));
  const metrics = `127.0.0.1:${await freePort()}`;
  const probes = `127.0.0.1:${await freePort()}`;
  const file = join(dir, "config.json");
  const write = (c: Record<string, unknown>) => writeFile(file, JSON.stringify({ logLevel: "info", prometheusAddr: metrics, readinessProbeAddr: probes, ...c }));
  await write(config);
  const child = startProcess(kind, process.execPath, ["--import", "tsx", BINS[kind], "--config", file], { env: { ...process.env, ...env } });
  const logLines = () =>
    child.log
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  let port = 0;
  await waitUntil(LISTENING[kind], async () => {
    const line = logLines().find((l) => l["msg"] === LISTENING[kind]);
    port = Number(line?.["port"] ?? 0);
    return port > 0;
  }, { process: child, timeoutMs: 30_000 });
  return {
    process: child,
    port,
    host: `127.0.0.1:${port}`,
    metricsUrl: `http://${metrics}/metrics`,
    probeUrl: `http://${probes}`,
    rewriteConfig: write,
    logLines,
    async stop() {
      await child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PutSpec through the management API of a spec-provider at address; metadata as a traced client would send it (traceparent). */
export async function putSpec(address: string, id: string, spec: Partial<ImageSpec> & { baseRef: string }, metadata: Record<string, string> = {}): Promise<void> {
  const client = new SpecManagementServiceClient(address, credentials.createInsecure());
  const withMetadata: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(sent, listener, next) {
        for (const [key, value] of Object.entries(metadata)) sent.set(key, value);
        next(sent, listener);
      },
    });
  try {
    await unaryCall(client.putSpec.bind(client), { id, spec: { ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [], ...spec } }, { interceptors: [withMetadata] });
  } finally {
    client.close();
  }
}
