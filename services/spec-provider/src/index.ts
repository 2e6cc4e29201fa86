import { readFile } from "node:fs/promises";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { SpecManagementServiceService } from "../../../gen/facade/manage/v1/manage.ts";
import { SpecProviderService } from "../../../gen/registryfacade/provider.ts";
import type { Config, SpecProviderConfig } from "../../shared/config/schema.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import type { Readiness } from "../../shared/telemetry/ops-server.ts";
import { createAppContext, type SpecProviderOptions } from "./context.ts";
import { addHealthService } from "./health.ts";
import { specManagementService, specProviderService } from "./rpc/index.ts";
import { trackStoreSize } from "./store-size.ts";

export interface RunningSpecProvider {
  /** The port really bound (the configured one, or the one the OS picked for port 0). */
  readonly port: number;
  /** What /ready answers: the same as grpc.health.v1 (store reachable, not stopping). */
  ready(): Promise<Readiness>;
  /** Stops accepting calls, ends watch streams, lets unary calls in flight finish (up to shutdownGraceMs), closes the store. */
  stop(): Promise<void>;
}

/** grpc-js's default limit of a received message. */
const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export async function startSpecProvider(config: Config, logger: Logger, options: SpecProviderOptions = {}): Promise<RunningSpecProvider> {
  const log = subsystemLogger(logger, "server");
  const ctx = await createAppContext(config, logger, options);
  // A spec carrying a direct layer of the configured maximum must reach
  // validation, not be cut off by the transport's default limit. (Readers
  // of such specs need the same limit on their clients.)
  const server = new Server({
    "grpc.max_receive_message_length": Math.max(DEFAULT_MAX_MESSAGE_BYTES, config.specProvider.maxDirectContentBytes + 1024 * 1024),
  });
  server.addService(SpecProviderService, specProviderService(ctx));
  server.addService(SpecManagementServiceService, specManagementService(ctx));
  const health = addHealthService(server, ctx.store);

  let port: number;
  try {
    port = await bind(server, config.specProvider);
  } catch (err) {
    await ctx.close();
    throw err;
  }
  trackStoreSize(ctx.store, ctx.shutdown, subsystemLogger(logger, "store-size"));
  log.info({ host: config.specProvider.host, port, store: config.specProvider.store.type, tls: config.specProvider.tls !== undefined }, "spec-provider listening");

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    health.stopping();
    // Watch streams never end by themselves, and tryShutdown waits for every
    // open call; the store stays open until the unary calls are done.
    ctx.endStreams();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        log.warn({ graceMs: config.shutdownGraceMs }, "calls still running after the grace period; cancelling them");
        server.forceShutdown();
        resolve();
      }, config.shutdownGraceMs);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await ctx.close();
    log.info("spec-provider stopped");
  };
  return {
    port,
    ready: async () => (health.serving() ? { ready: true, checks: { store: "ok" } } : { ready: false, checks: { store: "store unavailable or stopping" } }),
    stop: () => (stopping ??= stop()),
  };
}

async function bind(server: Server, config: SpecProviderConfig): Promise<number> {
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const credentials = await serverCredentials(config);
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${config.port}`, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** TLS when configured; with a CA, clients must present a certificate it signed (mutual TLS). */
async function serverCredentials(config: SpecProviderConfig): Promise<ServerCredentials> {
  if (config.tls === undefined) return ServerCredentials.createInsecure();
  const [cert, key, ca] = await Promise.all([
    readFile(config.tls.crt),
    readFile(config.tls.key),
    config.tls.ca === undefined ? undefined : readFile(config.tls.ca),
  ]);
  return ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined);
}
