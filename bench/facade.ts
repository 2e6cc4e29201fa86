import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../gen/facade/manage/v1/manage.ts";
import type { ImageSpec } from "../gen/registryfacade/provider.ts";
import { unaryCall } from "../services/shared/grpc/client.ts";
import { canConnect, freePort, startProcess, waitUntil, type TestProcess } from "../tests/support/process.ts";

/**
 * This project's two services as production runs them: compiled by tsc (as
 * the Dockerfile does) and each its own `node services/<svc>/bin.js --config
 * FILE` process, talking gRPC to each other and NATS for cache-invalidation
 * events. Not through tsx: its loader thread alone costs the process about
 * 46 MiB of resident memory that no deployment carries.
 *
 * Both log at "warn": the distribution registry of the bench runs with its
 * access log off, and a log line per request would be measured on one side only.
 */
const LOG_LEVEL = "warn";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Inside the repository, so the compiled code resolves node_modules as the image does. */
const DIST = join(ROOT, ".data", `bench-dist-${process.pid}`);
let compiled: Promise<unknown> | undefined;

/** The compiled entry of a service; the first call compiles both (once per bench run). */
async function entry(service: "registry" | "spec-provider"): Promise<string> {
  if (!compiled) {
    process.once("exit", () => rmSync(DIST, { recursive: true, force: true }));
    compiled = promisify(execFile)("npx", ["tsc", "-p", "tsconfig.build.json", "--outDir", DIST], { cwd: ROOT });
  }
  await compiled;
  return join(DIST, "services", service, "bin.js");
}

export interface FacadeProcess {
  /** host:port, as in image references. */
  readonly host: string;
  readonly url: string;
  readonly pid: number;
  readonly process: TestProcess;
  /** process.hrtime.bigint() when it was spawned: where its CPU profile's clock starts. */
  readonly spawnedAt: bigint;
  stop(): Promise<void>;
}

export class SpecProvider {
  private constructor(
    readonly address: string,
    private readonly process: TestProcess,
    private readonly client: SpecManagementServiceClient,
  ) {}

  static async start(dir: string, natsUrl: string): Promise<SpecProvider> {
    const port = await freePort();
    const config = join(dir, "spec-provider.json");
    await writeFile(
      config,
      JSON.stringify({ logLevel: LOG_LEVEL, nats: { servers: [natsUrl] }, specProvider: { host: "127.0.0.1", port, store: { type: "file", path: join(dir, "specs") } } }),
    );
    const process = startProcess("spec-provider", globalThis.process.execPath, [await entry("spec-provider"), "--config", config]);
    await waitUntil("spec-provider listening", () => canConnect(port), { process, timeoutMs: 30_000 });
    const address = `127.0.0.1:${port}`;
    return new SpecProvider(address, process, new SpecManagementServiceClient(address, credentials.createInsecure()));
  }

  /** Registers (or replaces) a workspace's image spec, as the workspace manager does. */
  async put(id: string, spec: Partial<ImageSpec> & { baseRef: string }): Promise<void> {
    const full: ImageSpec = { ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [], ...spec };
    await unaryCall(this.client.putSpec.bind(this.client), { id, spec: full });
  }

  async stop(): Promise<void> {
    this.client.close();
    await this.process.stop();
  }
}

export interface RegistryOptions {
  store: string;
  specProvider: string;
  natsUrl: string;
  /** Directory for a V8 CPU profile (`node --cpu-prof`), written when the process exits. */
  cpuProfDir?: string;
}

/** Starts a registry process; ready once GET /v2/ answers. */
export async function startRegistry(dir: string, options: RegistryOptions): Promise<FacadeProcess> {
  const port = await freePort();
  const config = join(dir, `registry-${port}.json`);
  await writeFile(
    config,
    JSON.stringify({
      logLevel: LOG_LEVEL,
      nats: { servers: [options.natsUrl] },
      registry: { host: "127.0.0.1", port, store: options.store, remoteSpecProvider: [{ addr: options.specProvider }] },
    }),
  );
  const profiling = options.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfDir] : [];
  const spawnedAt = globalThis.process.hrtime.bigint();
  const process = startProcess("registry", globalThis.process.execPath, [...profiling, await entry("registry"), "--config", config]);
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  await waitUntil("registry listening", async () => (await fetch(`${url}/v2/`)).status === 200, { process, timeoutMs: 30_000 });
  return { host, url, pid: process.child.pid as number, process, spawnedAt, stop: () => process.stop(15_000) };
}
