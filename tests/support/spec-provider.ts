import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { SpecManagementServiceClient, type StoredSpec } from "../../gen/facade/manage/v1/manage.ts";
import { SpecProviderClient, type ImageSpec } from "../../gen/registryfacade/provider.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import type { Config } from "../../services/shared/config/schema.ts";
import type { EventBus } from "../../services/shared/events/events.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { createLogger, type Logger } from "../../services/shared/logging.ts";
import { startSpecProvider } from "../../services/spec-provider/src/index.ts";

export interface TestSpecProviderOptions {
  /** A file store directory to use (and keep); default a fresh temp dir removed by stop(). */
  dir?: string;
  /** Use the nats-kv store on these servers instead of a file store. */
  nats?: { servers: string[]; bucket?: string };
  /** Merged into the specProvider configuration section. */
  specProvider?: Record<string, unknown>;
  logger?: Logger;
  /** A bus shared with a registry in this process, as npm start does; without it, NATS when given, else its own. */
  eventBus?: EventBus;
}

/** A real spec-provider in this process, on an ephemeral loopback port. */
export interface TestSpecProvider {
  /** host:port, as a registry's remoteSpecProvider addr. */
  readonly address: string;
  readonly port: number;
  readonly config: Config;
  /** The file store directory (undefined with nats). */
  readonly dir: string | undefined;
  readonly client: SpecManagementServiceClient;
  readonly specProviderClient: SpecProviderClient;
  /** PutSpec, unconditionally: the stored spec with its revision and image_ref. */
  put(id: string, spec: Partial<ImageSpec> & { baseRef: string }): Promise<StoredSpec>;
  /** Stops the server and closes the clients; removes the store directory if this helper made it. */
  stop(): Promise<void>;
}

export async function startTestSpecProvider(options: TestSpecProviderOptions = {}): Promise<TestSpecProvider> {
  const ownDir = options.dir === undefined && options.nats === undefined ? await mkdtemp(join(tmpdir(), "facade-specs-")) : undefined;
  const dir = options.dir ?? ownDir;
  const store = options.nats ? { type: "nats-kv", ...(options.nats.bucket ? { bucket: options.nats.bucket } : {}) } : { type: "file", path: dir };
  const config = parseConfig(
    {
      specProvider: { host: "127.0.0.1", port: 0, store, ...options.specProvider },
      ...(options.nats ? { nats: { servers: options.nats.servers } } : {}),
    },
    "(test)",
  );
  const provider = await startSpecProvider(config, options.logger ?? createLogger({ level: "silent", service: "spec-provider" }), { eventBus: options.eventBus });
  const address = `127.0.0.1:${provider.port}`;
  const client = new SpecManagementServiceClient(address, credentials.createInsecure());
  const specProviderClient = new SpecProviderClient(address, credentials.createInsecure());
  return {
    address,
    port: provider.port,
    config,
    dir,
    client,
    specProviderClient,
    async put(id, spec) {
      const full: ImageSpec = { ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [], ...spec };
      const response = await unaryCall(client.putSpec.bind(client), { id, spec: full });
      return response.stored!;
    },
    async stop() {
      client.close();
      specProviderClient.close();
      await provider.stop();
      if (ownDir !== undefined) await rm(ownDir, { recursive: true, force: true });
    },
  };
}
