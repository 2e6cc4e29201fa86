import { randomBytes } from "node:crypto";
import { unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeGenericClientConstructor, status as Code, type Client, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import type { RegistryConfig } from "../../shared/config/schema.ts";
import type { Readiness } from "../../shared/telemetry/ops-server.ts";
import { channelCredentials } from "./specs/remote.ts";
import type { StaticLayers } from "./static-layers.ts";

/** A probe must answer well within a kubelet's default timeout of one second. */
const CHECK_TIMEOUT_MS = 800;

const HealthClient = makeGenericClientConstructor(healthService as never, "Health");
type CheckCall = (request: { service: string }, options: { deadline: number }, callback: (err: ServiceError | null, response?: { status: string | number }) => void) => void;

/**
 * The registry's readiness: a spec-provider answers its gRPC health check as
 * SERVING (one is enough: pulls try them in order), and the store directory
 * takes a write (composition and the blob cache write there), and every
 * static layer image resolves upstream (without them no composition works).
 * A registry with only fixed specs needs no spec-provider. Nothing here fails
 * start-up: an unready registry keeps running and is asked again at the next
 * probe.
 */
export class RegistryHealth {
  private readonly providers: Array<{ addr: string; client: Client }>;
  private stopping = false;

  constructor(
    private readonly config: RegistryConfig,
    private readonly staticLayers: StaticLayers,
  ) {
    this.providers = config.remoteSpecProvider.map((p) => ({ addr: p.addr, client: new HealthClient(p.addr, channelCredentials(p)) }));
  }

  async readiness(): Promise<Readiness> {
    if (this.stopping) return { ready: false, checks: { shutdown: "stopping" } };
    const checks: Readiness["checks"] = { store: await this.storeWritable() };
    if (this.providers.length > 0) checks["specProvider"] = await this.anySpecProviderServing();
    if (this.config.staticLayer.some((s) => s.type === "image")) checks["staticLayers"] = await this.staticLayers.reachable();
    return { ready: Object.values(checks).every((c) => c === "ok"), checks };
  }

  /** From now on not ready, so load balancers stop sending pulls while in-flight ones finish. */
  markStopping(): void {
    this.stopping = true;
  }

  close(): void {
    for (const { client } of this.providers) client.close();
  }

  private async storeWritable(): Promise<string> {
    const probe = join(this.config.store, "tmp", `ready-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(probe, "");
      await unlink(probe);
      return "ok";
    } catch (err) {
      return `store not writable: ${(err as Error).message}`;
    }
  }

  private async anySpecProviderServing(): Promise<string> {
    const answers = await Promise.all(this.providers.map(({ addr, client }) => check(client).then((status) => `${addr}: ${status}`)));
    return answers.some((a) => a.endsWith(": SERVING")) ? "ok" : `no spec-provider serving (${answers.join("; ")})`;
  }
}

function check(client: Client): Promise<string> {
  const call = (client as unknown as { Check: CheckCall }).Check.bind(client);
  return new Promise((resolve) => {
    call({ service: "registryfacade.SpecProvider" }, { deadline: Date.now() + CHECK_TIMEOUT_MS }, (err, response) => {
      // A spec-provider without grpc.health.v1 (another implementation of Gitpod's API) still answered.
      if (err?.code === Code.UNIMPLEMENTED) resolve("SERVING");
      else if (err) resolve(err.details || err.message);
      // The enum arrives as its name or its number, depending on the loader's options.
      else resolve(response?.status === 1 ? "SERVING" : String(response?.status));
    });
  });
}
