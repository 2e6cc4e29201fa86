import { createServer, type Server } from "node:http";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Config, StaticLayerConfig } from "../../shared/config/schema.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import { observeCaches } from "../../shared/telemetry/metrics.ts";
import type { Readiness } from "../../shared/telemetry/ops-server.ts";
import { createApp } from "./app.ts";
import { cacheReading } from "./cache-reading.ts";
import { createContext, type RegistryOptions } from "./context.ts";
import { observeUpstreamRequests } from "./upstream/observe.ts";
import { ServingCertificate } from "./tls.ts";
import { RegistryHealth } from "./health.ts";

export interface RunningRegistry {
  /** The port really bound (registry.port 0 picks a free one). */
  readonly port: number;
  /** What /ready answers: a spec-provider serving, the store writable, not stopping. */
  ready(): Promise<Readiness>;
  /** Takes a changed registry.staticLayer (the configuration file was edited); true when the layers changed. */
  reloadStaticLayers(configs: readonly StaticLayerConfig[]): Promise<boolean>;
  /** Turns unready, stops accepting, lets requests in flight finish (up to shutdownGraceMs), then closes upstream pools. */
  stop(): Promise<void>;
}

export async function startRegistry(config: Config, logger: Logger, options: RegistryOptions = {}): Promise<RunningRegistry> {
  const log = subsystemLogger(logger, "registry");
  const tls = config.registry.tls;
  const certificate = tls ? await ServingCertificate.open(tls, subsystemLogger(logger, "tls")) : undefined;
  observeUpstreamRequests();
  const context = await createContext(config, log, options).catch((err: unknown) => {
    certificate?.close();
    throw err;
  });
  const handler = createApp(context).callback();
  const server: Server = certificate ? createTlsServer(certificate.options, handler) : createServer(handler);
  if (certificate) certificate.attach(server as TlsServer);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.registry.port, config.registry.host, () => resolve());
    });
  } catch (err) {
    certificate?.close();
    await context.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.registry.host, port, prefix: config.registry.prefix, tls: tls !== undefined }, "registry listening");
  let stopping: Promise<void> | undefined;
  const health = new RegistryHealth(config.registry, context.staticLayers);
  const stopObserving = observeCaches(() => cacheReading(context.cacheStats));
  const stop = async () => {
    health.markStopping();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Transfers in flight get a grace period, then their connections are cut.
    const force = setTimeout(() => {
      log.warn({ graceMs: config.shutdownGraceMs }, "requests still running after the grace period; closing their connections");
      server.closeAllConnections();
    }, config.shutdownGraceMs);
    await closed;
    clearTimeout(force);
    health.close();
    stopObserving();
    certificate?.close();
    await context.close();
    log.info("registry stopped");
  };
  return {
    port,
    ready: () => health.readiness(),
    reloadStaticLayers: (configs) => context.staticLayers.reload(configs),
    stop: () => (stopping ??= stop()),
  };
}
