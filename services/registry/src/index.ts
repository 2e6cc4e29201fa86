import { createServer, type Server } from "node:http";
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

export async function startRegistry(config: Config, logger: Logger): Promise<RunningRegistry> {
  const log = subsystemLogger(logger, "registry");
  const context = await createContext(config, log);
  const server: Server = createServer(createApp(context).callback());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.registry.port, config.registry.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.registry.host, port, prefix: config.registry.prefix }, "registry listening");
  return {
    port,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await context.close();
    },
  };
}
