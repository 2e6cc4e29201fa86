import { createServer, type Server } from "node:http";
import type { Logger } from "../logging.ts";
import { metricsRegistry } from "./metrics.ts";

/** What a readiness check found: ready only when every check passed; each failing one says why. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, "ok" | string>;
}

export interface OpsAddresses {
  prometheusAddr?: string | undefined;
  readinessProbeAddr?: string | undefined;
}

export interface OpsServer {
  /** Closes the listeners; the last step of a shutdown, so probes and scrapes answer until then. */
  close(): Promise<void>;
}

/**
 * The operations endpoints: /metrics (Prometheus text format) on
 * prometheusAddr, /live and /ready on readinessProbeAddr. Every listener
 * answers all three paths, so one address may serve both. /live says the
 * process answers at all; /ready runs the service's checks (503 with the
 * failing ones as JSON).
 */
export async function startOpsServer(addresses: OpsAddresses, ready: () => Promise<Readiness>, logger: Logger): Promise<OpsServer> {
  const listen = [...new Set([addresses.prometheusAddr, addresses.readinessProbeAddr].filter((a): a is string => a !== undefined))];
  const servers: Server[] = [];
  const handler = async (path: string | undefined): Promise<{ status: number; type: string; body: string }> => {
    if (path === "/metrics") return { status: 200, type: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
    if (path === "/live") return { status: 200, type: "text/plain", body: "ok\n" };
    if (path === "/ready") {
      const readiness = await ready();
      return { status: readiness.ready ? 200 : 503, type: "application/json", body: `${JSON.stringify(readiness)}\n` };
    }
    return { status: 404, type: "text/plain", body: "not found: /metrics, /live, /ready\n" };
  };
  try {
    for (const address of listen) {
      const server = createServer((req, res) => {
        handler(req.url?.split("?")[0]).then(
          ({ status, type, body }) => res.writeHead(status, { "content-type": type }).end(body),
          (err: unknown) => {
            logger.error({ err, path: req.url }, "operations endpoint failed");
            res.writeHead(500).end();
          },
        );
      });
      servers.push(server);
      const separator = address.lastIndexOf(":");
      const host = address.slice(0, separator);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(Number(address.slice(separator + 1)), host === "" ? undefined : host, () => resolve());
      });
      logger.info({ address }, "operations endpoints listening");
    }
  } catch (err) {
    for (const server of servers) server.close();
    throw err;
  }
  return {
    async close() {
      await Promise.all(
        servers.map((server) => {
          server.closeAllConnections();
          return new Promise<void>((resolve) => server.close(() => resolve()));
        }),
      );
    },
  };
}
