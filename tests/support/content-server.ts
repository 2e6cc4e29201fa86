import { createServer, type IncomingMessage, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";

/**
 * A tiny HTTP server for remote content layers: serves registered byte
 * strings by path, honours single Range requests, records what it was asked.
 */
export class ContentServer {
  private readonly files = new Map<string, Buffer>();
  private readonly slow = new Map<string, { size: number; chunk: Buffer; delayMs: number }>();
  readonly requests: Array<{ path: string; range: string | undefined }> = [];
  /** Paths of slow responses whose client went away before the end. */
  readonly abandoned: string[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<ContentServer> {
    let self: ContentServer | undefined;
    const server = createServer((req, res) => self?.handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    self = new ContentServer(server);
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Serves bytes at path; returns the full URL. */
  put(path: string, bytes: Buffer): string {
    this.files.set(path, bytes);
    return `${this.url}${path}`;
  }

  /** Serves size bytes of chunk repeated, one chunk every delayMs: a slow upstream. */
  putSlow(path: string, size: number, chunk: Buffer, delayMs: number): string {
    this.slow.set(path, { size, chunk, delayMs });
    return `${this.url}${path}`;
  }

  private handle(req: IncomingMessage, res: import("node:http").ServerResponse): void {
    const path = (req.url ?? "").split("?")[0] ?? "";
    this.requests.push({ path, range: req.headers.range });
    const slow = this.slow.get(path);
    if (slow) {
      res.writeHead(200, { "content-length": slow.size });
      let sent = 0;
      const timer = setInterval(() => {
        const n = Math.min(slow.chunk.length, slow.size - sent);
        res.write(slow.chunk.subarray(0, n));
        sent += n;
        if (sent >= slow.size) {
          clearInterval(timer);
          res.end();
        }
      }, slow.delayMs);
      res.on("close", () => {
        clearInterval(timer);
        if (sent < slow.size) this.abandoned.push(path);
      });
      return;
    }
    const bytes = this.files.get(path);
    if (!bytes) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (m) {
      const start = Number(m[1]);
      const end = Math.min(Number(m[2]), bytes.length - 1);
      res.writeHead(206, { "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${bytes.length}` });
      res.end(bytes.subarray(start, end + 1));
      return;
    }
    res.writeHead(200, { "content-length": bytes.length });
    res.end(bytes);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
