import { createPrivateKey, createSign, randomUUID, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** One token request the issuer answered. */
export interface TokenRequest {
  method: string;
  /** "basic:<user>", "refresh" or "anonymous". */
  who: string;
  scopes: string[];
  status: number;
}

/**
 * A token service for distribution's `auth: token`: it signs RS256 JWTs with
 * a key and self-signed certificate made with openssl (the certificate is the
 * registry's rootcertbundle and travels in each token's x5c header), with
 * `iss`, `aud` (the service) and `access` as distribution checks them. Users
 * with the right password, or the identity (refresh) token, get pull access
 * to every scope they ask for; anonymous callers get a token with no access.
 */
export class TokenIssuer {
  readonly requests: TokenRequest[] = [];
  /** What the next answers report as expires_in (undefined: the field is left out). */
  expiresIn: number | undefined = 300;
  /** The next this many tokens are signed already expired (past distribution's 60 s leeway). */
  expiredTokens = 0;
  readonly issuer = "facade-test-issuer";
  readonly service = "facade-test-registry";
  /** Every token value handed out, so tests can grep logs for them. */
  readonly issued: string[] = [];

  private constructor(
    private readonly server: Server,
    private readonly key: ReturnType<typeof createPrivateKey>,
    private readonly certDer: Buffer,
    readonly certFile: string,
    private readonly users: Map<string, string>,
    private readonly refreshToken: string | undefined,
  ) {}

  static async start(options: { dir: string; users: Record<string, string>; refreshToken?: string }): Promise<TokenIssuer> {
    const keyFile = join(options.dir, "issuer.key");
    const certFile = join(options.dir, "issuer.crt");
    await exec("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "1", "-subj", "/CN=facade-test-issuer"]);
    const key = createPrivateKey(await readFile(keyFile));
    const certDer = new X509Certificate(await readFile(certFile)).raw;
    const server = createServer();
    const issuer = new TokenIssuer(server, key, certDer, certFile, new Map(Object.entries(options.users)), options.refreshToken);
    server.on("request", (req, res) => void issuer.handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return issuer;
  }

  get realm(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/token`;
  }

  /** A token for the tests' own pushes: pull and push on one repository. */
  mint(repository: string): string {
    return this.sign("admin", [{ type: "repository", name: repository, actions: ["pull", "push"] }], 300);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://issuer");
    let params = url.searchParams;
    let scopes = params.getAll("scope");
    let who = "anonymous";
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      scopes = (params.get("scope") ?? "").split(" ").filter(Boolean);
      if (params.get("grant_type") !== "refresh_token" || params.get("refresh_token") !== this.refreshToken || this.refreshToken === undefined) return this.answer(res, { method: "POST", who: "refresh", scopes }, 401, { error: "invalid_grant" });
      who = "refresh";
    } else {
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      if (basic) {
        const [user, ...rest] = Buffer.from(basic[1]!, "base64").toString("utf8").split(":");
        if (this.users.get(user!) !== rest.join(":")) return this.answer(res, { method: "GET", who: `basic:${user}`, scopes }, 401, { errors: [{ code: "UNAUTHORIZED" }] });
        who = `basic:${user}`;
      }
    }
    if (params.get("service") !== this.service) return this.answer(res, { method: req.method ?? "", who, scopes }, 400, { error: "unknown service" });
    const access =
      who === "anonymous"
        ? []
        : scopes.map((s) => {
            const [type, name, actions] = s.split(":");
            return { type: type!, name: name!, actions: (actions ?? "").split(",").filter((a) => a === "pull") };
          });
    const expired = this.expiredTokens > 0;
    if (expired) this.expiredTokens--;
    const token = this.sign(who, access, expired ? -300 : 300);
    const body: Record<string, unknown> = req.method === "POST" ? { access_token: token, refresh_token: this.refreshToken } : { token };
    if (this.expiresIn !== undefined) body["expires_in"] = this.expiresIn;
    this.answer(res, { method: req.method ?? "", who, scopes }, 200, body);
  }

  private answer(res: ServerResponse, request: Omit<TokenRequest, "status">, status: number, body: unknown): void {
    this.requests.push({ ...request, status });
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  private sign(subject: string, access: Array<{ type: string; name: string; actions: string[] }>, lifetimeS: number): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const header = b64({ typ: "JWT", alg: "RS256", x5c: [this.certDer.toString("base64")] });
    const claims = b64({ iss: this.issuer, sub: subject, aud: this.service, exp: now + lifetimeS, nbf: now - 10, iat: now - 10, jti: randomUUID(), access });
    const signature = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(this.key).toString("base64url");
    const token = `${header}.${claims}.${signature}`;
    this.issued.push(token);
    return token;
  }
}
