import { Agent, type Dispatcher } from "undici";
import { LRUCache } from "lru-cache";
import type { Config } from "../../../shared/config/schema.ts";
import type { Logger } from "../../../shared/logging.ts";
import { RegistryError, unavailable } from "../errors.ts";
import type { AuthScope, UpstreamAuth } from "./auth.ts";
import { allowsPlainHttp, readLimited } from "./client.ts";
import { DockerConfigCredentials, noCredentials, type Credential, type CredentialSource } from "./docker-config.ts";
import { checkRealm, guardedLookup } from "./outbound-guard.ts";
import { parseWwwAuthenticate } from "./www-authenticate.ts";

/** A token response without expires_in is valid this long (the distribution token spec's default). */
const DEFAULT_EXPIRES_IN_S = 60;
/** A token is refreshed when this much (or a tenth of its lifetime, if less) is left. */
const REFRESH_BEFORE_MS = 10_000;
const TOKEN_REQUEST_TIMEOUT_MS = 15_000;
const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;
/** Sent as client_id in the OAuth2 refresh-token flow, as Docker sends "docker". */
const CLIENT_ID = "registry-facade";

type HostScheme = { kind: "basic" } | { kind: "bearer"; realm: URL; service: string };

interface TokenKey {
  id: string;
  realm: URL;
  service: string;
  scopes: string[];
}

interface Token {
  value: string;
  expiresAt: number;
  lifetimeMs: number;
}

/** The realm refused to hand out a token (wrong credentials, no access): the request goes on without one and fails as denied. */
class RealmDenied extends Error {
  override name = "RealmDenied";
}

export interface TokenAuthOptions {
  credentials: CredentialSource;
  /** registry.insecureRegistries: a realm may be plain http only where the registry itself may be. */
  insecureRegistries: readonly string[];
  logger: Logger;
}

/**
 * Upstream authentication as Docker does it. A host is anonymous until it
 * answers 401; its challenge decides the scheme from then on. Basic: the
 * host's credentials go with every request. Bearer (the distribution token
 * flow): a token from the challenge's realm, requested with the host's
 * credentials (or anonymously, which public Docker Hub images need too),
 * cached per realm+service+scopes until shortly before it expires, one
 * request in flight per key. The scopes of a repository grow with each
 * challenge, so a token covers everything the registry asked for.
 */
export class TokenAuth implements UpstreamAuth {
  private readonly schemes = new LRUCache<string, HostScheme>({ max: 1_000 });
  /** Scopes asked for per host+repository. */
  private readonly scopes = new LRUCache<string, Set<string>>({ max: 10_000 });
  private readonly tokens = new LRUCache<string, Token>({ max: 10_000 });
  private readonly inflight = new Map<string, Promise<Token>>();
  /** No redirects: a realm must not bounce the request somewhere the guard would refuse. */
  private readonly agent = new Agent({ connect: { timeout: 10_000, lookup: guardedLookup }, headersTimeout: TOKEN_REQUEST_TIMEOUT_MS, bodyTimeout: TOKEN_REQUEST_TIMEOUT_MS });
  private readonly insecure: ReadonlySet<string>;

  constructor(private readonly options: TokenAuthOptions) {
    this.insecure = new Set(options.insecureRegistries);
  }

  async headers(scope: AuthScope): Promise<Record<string, string>> {
    const scheme = this.schemes.get(scope.host);
    if (scheme === undefined) return {};
    if (scheme.kind === "basic") {
      const credential = await this.options.credentials.lookup(scope.host);
      return credential?.kind === "password" ? { authorization: basicHeader(credential) } : {};
    }
    const key = this.keyFor(scope, scheme);
    const cached = this.tokens.get(key.id);
    if (cached !== undefined && !refreshDue(cached)) return { authorization: `Bearer ${cached.value}` };
    try {
      return { authorization: `Bearer ${(await this.obtain(scope.host, key)).value}` };
    } catch (err) {
      // A failed refresh still leaves a token that has not expired yet.
      if (cached !== undefined && cached.expiresAt > Date.now()) return { authorization: `Bearer ${cached.value}` };
      if (err instanceof RealmDenied) return {};
      throw err;
    }
  }

  async challenge(scope: AuthScope, wwwAuthenticate: string, sentAuthorization?: string): Promise<boolean> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer !== undefined) {
      const realm = checkRealm(bearer.params["realm"] ?? "", (host) => allowsPlainHttp(host, this.insecure));
      const scheme: HostScheme = { kind: "bearer", realm, service: bearer.params["service"] ?? "" };
      this.schemes.set(scope.host, scheme);
      const scopes = this.scopeSet(scope);
      for (const s of (bearer.params["scope"] ?? "").split(" ")) if (s !== "") scopes.add(s);
      const key = this.keyFor(scope, scheme);
      const cached = this.tokens.get(key.id);
      // Another request got a fresh token since this one was sent: retrying with it is enough.
      if (cached !== undefined && `Bearer ${cached.value}` !== sentAuthorization && cached.expiresAt > Date.now()) return true;
      this.tokens.delete(key.id);
      try {
        await this.obtain(scope.host, key);
        return true;
      } catch (err) {
        if (err instanceof RealmDenied) return false;
        throw err;
      }
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      this.schemes.set(scope.host, { kind: "basic" });
      const credential = await this.options.credentials.lookup(scope.host);
      // Retrying is worth it only with credentials other than the ones just refused.
      return credential?.kind === "password" && basicHeader(credential) !== sentAuthorization;
    }
    return false;
  }

  /** The upstream auth a configuration asks for: dockerAuth's credentials, if any, behind the token flow. */
  static async open(config: Config, logger: Logger): Promise<TokenAuth> {
    const credentials = config.dockerAuth === undefined ? noCredentials : await DockerConfigCredentials.open(config.dockerAuth, logger);
    return new TokenAuth({ credentials, insecureRegistries: config.registry.insecureRegistries, logger });
  }

  async close(): Promise<void> {
    this.options.credentials.close?.();
    await this.agent.close();
  }

  private scopeSet(scope: AuthScope): Set<string> {
    const id = `${scope.host}\n${scope.repository}`;
    let set = this.scopes.get(id);
    if (set === undefined) {
      set = new Set([`repository:${scope.repository}:pull`]);
      this.scopes.set(id, set);
    }
    return set;
  }

  private keyFor(scope: AuthScope, scheme: { realm: URL; service: string }): TokenKey {
    const scopes = [...this.scopeSet(scope)].sort();
    return { id: `${scheme.realm.href}\n${scheme.service}\n${scopes.join(" ")}`, realm: scheme.realm, service: scheme.service, scopes };
  }

  /** One token request per key at a time; everyone asking meanwhile shares its answer. */
  private obtain(host: string, key: TokenKey): Promise<Token> {
    let pending = this.inflight.get(key.id);
    if (pending === undefined) {
      pending = this.requestToken(host, key)
        .then((token) => {
          this.tokens.set(key.id, token);
          return token;
        })
        .finally(() => this.inflight.delete(key.id));
      this.inflight.set(key.id, pending);
    }
    return pending;
  }

  /**
   * GET realm?service=&scope= with Basic credentials (or none), or with an
   * identity token the OAuth2 refresh-token POST. Token lifetimes count from
   * when the request was sent, not from the server's issued_at: the local
   * clock is the one that decides when to refresh.
   */
  private async requestToken(host: string, key: TokenKey): Promise<Token> {
    const credential = await this.options.credentials.lookup(host);
    const where = { realm: key.realm.origin + key.realm.pathname, service: key.service, scopes: key.scopes, authenticated: credential !== undefined };
    const started = Date.now();
    let res: Dispatcher.ResponseData;
    try {
      if (credential?.kind === "identityToken") {
        const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credential.token, client_id: CLIENT_ID, scope: key.scopes.join(" ") });
        if (key.service !== "") form.set("service", key.service);
        res = await this.send(key.realm, "POST", { "content-type": "application/x-www-form-urlencoded" }, form.toString());
      } else {
        const url = new URL(key.realm);
        if (key.service !== "") url.searchParams.set("service", key.service);
        for (const s of key.scopes) url.searchParams.append("scope", s);
        res = await this.send(url, "GET", credential ? { authorization: basicHeader(credential) } : {});
      }
    } catch (err) {
      throw unavailable("upstream token service unreachable", { ...where, reason: (err as Error).message });
    }
    if (res.statusCode !== 200) {
      res.body.resume();
      if (res.statusCode === 429 || res.statusCode >= 500) throw unavailable("upstream token service unavailable", { ...where, status: res.statusCode });
      this.options.logger.warn({ ...where, status: res.statusCode }, "upstream token service refused");
      throw new RealmDenied(`token service answered ${res.statusCode}`);
    }
    const token = parseTokenResponse(await readLimited(res.body, MAX_TOKEN_RESPONSE_BYTES, where.realm), where);
    this.options.logger.debug({ ...where, expiresInS: token.lifetimeMs / 1000 }, "upstream token obtained");
    return { ...token, expiresAt: started + token.lifetimeMs };
  }

  private send(url: URL, method: "GET" | "POST", headers: Record<string, string>, body?: string): Promise<Dispatcher.ResponseData> {
    return this.agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method, headers: { accept: "application/json", ...headers }, body, signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS) });
  }
}

/** token or access_token (OAuth2's name); expires_in defaults; issued_at is not needed. */
function parseTokenResponse(bytes: Buffer, where: object): Omit<Token, "expiresAt"> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new RegistryError("UPSTREAM_INVALID", "upstream token service answered something other than JSON", where);
  }
  const value = [parsed["token"], parsed["access_token"]].find((v): v is string => typeof v === "string" && v !== "");
  if (value === undefined) throw new RegistryError("UPSTREAM_INVALID", "upstream token service answered without a token", where);
  const expiresIn = parsed["expires_in"];
  const seconds = typeof expiresIn === "number" && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_S;
  return { value, lifetimeMs: seconds * 1000 };
}

function refreshDue(token: Token): boolean {
  return token.expiresAt - Date.now() < Math.min(REFRESH_BEFORE_MS, token.lifetimeMs / 10);
}

function basicHeader(credential: Extract<Credential, { kind: "password" }>): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
}
