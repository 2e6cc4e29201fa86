import { createServer, request, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Transform } from "node:stream";

/**
 * An HTTP proxy in front of a registry that flips one byte in the middle of
 * the body of chosen paths (same length, wrong content): an upstream that
 * corrupts data without any other sign.
 */
export class CorruptingProxy {
  /** Substrings of request paths whose answer bodies get a flipped byte. */
  readonly corrupt = new Set<string>();
  /** Every request passed on, as "METHOD path". */
  readonly requests: string[] = [];
  /** When set, answer bodies pass at about this rate: a slow upstream. */
  bytesPerSecond: number | undefined;
  /** When set, every request is answered with this status (429: rate-limited) or its connection reset, and not passed on. */
  failWith: number | "reset" | undefined;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetHost: string): Promise<CorruptingProxy> {
    const [host = "", port = ""] = targetHost.split(":");
    let self: CorruptingProxy | undefined;
    const server = createServer((req, res) => {
      self?.requests.push(`${req.method} ${req.url}`);
      if (self?.failWith === "reset") return void req.socket.destroy();
      if (self?.failWith !== undefined) return void res.writeHead(self.failWith, { "content-length": "0" }).end();
      const upstream = request({ host, port: Number(port), method: req.method, path: req.url, headers: { ...req.headers, host: targetHost } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const path = req.url ?? "";
        const length = Number(up.headers["content-length"] ?? 0);
        const body = self?.bytesPerSecond ? up.pipe(throttle(self.bytesPerSecond)) : up;
        if ([...(self?.corrupt ?? [])].some((p) => path.includes(p)) && length > 0) body.pipe(flipByteAt(Math.floor(length / 2))).pipe(res);
        else body.pipe(res);
      });
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    self = new CorruptingProxy(server, { host, port: Number(port) });
    return self;
  }

  get host(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function flipByteAt(offset: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (offset >= seen && offset < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[offset - seen] = (chunk[offset - seen] as number) ^ 0xff;
      }
      seen += chunk.length;
      done(null, chunk);
    },
  });
}

/** Passes bytes on at about bytesPerSecond, chunk by chunk. */
function throttle(bytesPerSecond: number): Transform {
  const started = Date.now();
  let sent = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      const due = started + (sent / bytesPerSecond) * 1000;
      setTimeout(() => done(null, chunk), Math.max(0, due - Date.now()));
    },
  });
}
