import { createReadStream } from "node:fs";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "../../services/shared/config/load.ts";
import type { Logger } from "../../services/shared/logging.ts";
import { startRegistry, type RunningRegistry } from "../../services/registry/src/index.ts";

/** The registry under test in this process, on an ephemeral port, with the given configuration. */
export async function startFacade(config: Record<string, unknown>, logger: Logger): Promise<{ registry: RunningRegistry; host: string; url: string }> {
  const registry = (config["registry"] ?? {}) as Record<string, unknown>;
  const parsed = parseConfig({ ...config, registry: { port: 0, ...registry } });
  const running = await startRegistry(parsed, logger);
  const host = `127.0.0.1:${running.port}`;
  return { registry: running, host, url: `${registry["tls"] ? "https" : "http"}://${host}` };
}

/**
 * Object storage in miniature: serves files under a root and records the
 * headers of every request, so a test sees what a redirected blob request
 * carried to this other origin.
 */
export class RecordingFileServer {
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  root = "";

  private constructor(private readonly server: Server) {}

  static async start(): Promise<RecordingFileServer> {
    const server = createServer();
    const files = new RecordingFileServer(server);
    server.on("request", (req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      files.requests.push({ path, headers: req.headers });
      const file = join(files.root, normalize(path));
      const stream = createReadStream(file);
      stream.once("error", () => res.writeHead(404).end());
      stream.once("open", () => {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        stream.pipe(res);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return files;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Retries check until it passes (file watchers poll once a second). */
export async function eventually<T>(what: string, check: () => Promise<T>, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms: ${(err as Error).message}`);
      await sleep(100);
    }
  }
}
