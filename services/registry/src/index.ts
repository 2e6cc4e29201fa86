import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Config } from "../../shared/config/schema.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import { createApp } from "./app.ts";
import { createContext } from "./context.ts";

export interface RunningRegistry {
  /** The port really bound (registry.port 0 picks a free one). */
  readonly port: number;
  /** Stops accepting, lets requests in flight finish, then closes upstream pools. */
  stop(): Promise<void>;
}

/** How long stop() lets requests in flight finish before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

export async function startRegistry(config: Config, logger: Logger): Promise<RunningRegistry> {
  const log = subsystemLogger(logger, "registry");
  // Serving without the authentication the operator asked for would be worse than not starting.
  if (config.registry.requireAuth) throw new Error("registry.requireAuth is not supported yet: refusing to serve pulls unauthenticated");
  const tls = config.registry.tls;
  const certificate = tls ? { cert: await readFile(tls.crt), key: await readFile(tls.key) } : undefined;
  const context = await createContext(config, log);
  const handler = createApp(context).callback();
  const server: Server = certificate ? createTlsServer(certificate, handler) : createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.registry.port, config.registry.host, () => resolve());
    });
  } catch (err) {
    await context.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.registry.host, port, prefix: config.registry.prefix, tls: tls !== undefined }, "registry listening");
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Transfers in flight get a grace period, then their connections are cut.
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    await closed;
    clearTimeout(force);
    await context.close();
    log.info("registry stopped");
  };
  return { port, stop: () => (stopping ??= stop()) };
}
