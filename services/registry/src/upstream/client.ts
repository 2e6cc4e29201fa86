import type { Readable } from "node:stream";
import { Agent, type Dispatcher } from "undici";
import { LRUCache } from "lru-cache";
import { digestOf, isDigest } from "../../../shared/digest.ts";
import { isLoopbackHost } from "../../../shared/image-ref.ts";
import { MANIFEST_ACCEPT } from "../../../shared/media-types.ts";
import { SingleFlight } from "../cache/single-flight.ts";
import type { TagCache } from "../cache/tag-cache.ts";
import type { Store } from "../store.ts";
import { RegistryError, unavailable, type ErrorCodeName } from "../errors.ts";
import { anonymousAuth, type AuthScope, type UpstreamAuth } from "./auth.ts";
import { checkOutboundUrl, guardedLookup } from "./outbound-guard.ts";

/** A repository on an upstream registry: where a blob or manifest is fetched from. */
export interface UpstreamRepo {
  /** host[:port] of the registry API (registry-1.docker.io for docker.io). */
  host: string;
  repository: string;
}

export interface FetchedDocument {
  bytes: Buffer;
  digest: string;
  /** The manifest's mediaType field, else the Content-Type the upstream gave ("" when neither). */
  mediaType: string;
}

/** Manifests and configs are small documents; anything larger is not one. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;
/** Registries hand blobs to a CDN in one hop; a longer chain is a loop or a trap. */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export interface UpstreamClientOptions {
  insecureRegistries: readonly string[];
  auth?: UpstreamAuth;
  /** Documents fetched by digest kept in memory; they never change. */
  cacheMaxBytes?: number;
  /** Tag resolutions reused for a while, and served stale when upstream fails; without it every resolution asks upstream. */
  tagCache?: TagCache;
  /** Verified manifests and configs by digest on disk (the registry's store), so a restart fetches none again. */
  documentStore?: Pick<Store, "readBlob" | "putBlob">;
}

/**
 * Talks the pull side of the distribution API to upstream registries and
 * fetches remote content layers. One undici Agent keeps a keep-alive pool per
 * origin; blob requests follow redirects (registries hand blobs to a CDN).
 * Every URL requested, each redirect hop included, passes the outbound guard.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  private readonly auth: UpstreamAuth;
  private readonly insecure: ReadonlySet<string>;
  private readonly documents: LRUCache<string, Buffer>;
  private readonly tags: TagCache | undefined;
  private readonly documentStore: UpstreamClientOptions["documentStore"];
  private readonly documentFetches = new SingleFlight<string, Buffer>("document");

  constructor(options: UpstreamClientOptions) {
    this.agent = new Agent({ keepAliveTimeout: 30_000, connections: 64, headersTimeout: 30_000, bodyTimeout: 60_000, connect: { timeout: 10_000, lookup: guardedLookup } });
    this.auth = options.auth ?? anonymousAuth;
    this.insecure = new Set(options.insecureRegistries);
    this.tags = options.tagCache;
    this.documentStore = options.documentStore;
    this.documents = new LRUCache({ maxSize: options.cacheMaxBytes ?? 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.length) });
  }

  origin(host: string): string {
    return `${allowsPlainHttp(host, this.insecure) ? "http" : "https"}://${host}`;
  }

  /**
   * The digest a tag points to now. A HEAD is enough (and not rate-limited by
   * Docker Hub); a registry that sends no Docker-Content-Digest gets a GET,
   * whose verified bytes are cached. Through the tag cache when there is one.
   */
  resolveTag(repo: UpstreamRepo, tag: string): Promise<string> {
    return this.tags ? this.tags.resolve(tagKey(repo, tag), () => this.headTag(repo, tag)) : this.headTag(repo, tag);
  }

  /** Why the tag's digest is served stale from the tag cache (upstream failing), or undefined. */
  staleTag(repo: UpstreamRepo, tag: string): string | undefined {
    return this.tags?.staleReason(tagKey(repo, tag));
  }

  private async headTag(repo: UpstreamRepo, tag: string): Promise<string> {
    const path = `/v2/${repo.repository}/manifests/${tag}`;
    const head = await this.send(repo, path, { accept: MANIFEST_ACCEPT }, { notFound: "MANIFEST_UNKNOWN", method: "HEAD" });
    await head.body.dump();
    const claimed = headerValue(head.headers["docker-content-digest"]);
    if (claimed !== undefined && isDigest(claimed)) return claimed;
    const res = await this.send(repo, path, { accept: MANIFEST_ACCEPT }, { notFound: "MANIFEST_UNKNOWN" });
    const bytes = await readLimited(res.body, MAX_DOCUMENT_BYTES, `${repo.host}${path}`);
    const digest = digestOf(bytes);
    this.documents.set(digest, bytes);
    return digest;
  }

  /** A manifest or index by digest, verified against it (and then cached: it cannot change). */
  async manifest(repo: UpstreamRepo, digest: string): Promise<FetchedDocument> {
    let contentType = "";
    const bytes = await this.document(digest, async () => {
      const path = `/v2/${repo.repository}/manifests/${digest}`;
      const res = await this.send(repo, path, { accept: MANIFEST_ACCEPT }, { notFound: "MANIFEST_UNKNOWN" });
      contentType = headerValue(res.headers["content-type"])?.split(";")[0]?.trim() ?? "";
      return verified(await readLimited(res.body, MAX_DOCUMENT_BYTES, `${repo.host}${path}`), digest, repo, "upstream manifest does not match its digest");
    });
    return { bytes, digest, mediaType: mediaTypeOf(bytes) || contentType };
  }

  /** A small blob (an image config), read whole and verified. */
  blobDocument(repo: UpstreamRepo, digest: string): Promise<Buffer> {
    return this.document(digest, async () => {
      const path = `/v2/${repo.repository}/blobs/${digest}`;
      const res = await this.send(repo, path, {}, { notFound: "MANIFEST_UNKNOWN", followRedirects: true });
      return verified(await readLimited(res.body, MAX_DOCUMENT_BYTES, `${repo.host}${path}`), digest, repo, "upstream blob does not match its digest");
    });
  }

  /**
   * A document by digest (it cannot change): from memory, else from disk,
   * else fetched once for all concurrent callers; kept in both once verified.
   */
  private async document(digest: string, fetch: () => Promise<Buffer>): Promise<Buffer> {
    const cached = this.documents.get(digest);
    if (cached) return cached;
    return this.documentFetches.run(digest, async () => {
      const stored = await this.documentStore?.readBlob(digest);
      const bytes = stored ?? (await fetch());
      this.documents.set(digest, bytes);
      // Losing the disk copy costs only a fetch after a restart: not worth failing a pull over.
      if (!stored) await this.documentStore?.putBlob(digest, bytes).catch(() => undefined);
      return bytes;
    });
  }

  /** Opens a whole blob's stream (a part of one could not be verified, so none is ever asked for). */
  async openBlob(repo: UpstreamRepo, digest: string, signal?: AbortSignal): Promise<Readable> {
    const res = await this.send(repo, `/v2/${repo.repository}/blobs/${digest}`, {}, { notFound: "BLOB_UNKNOWN", followRedirects: true, signal });
    return res.body;
  }

  /** Opens a remote content layer's URL (http or https, as the spec says). */
  async openUrl(url: string, signal?: AbortSignal): Promise<Readable> {
    const target = checkOutboundUrl(url, "content URL");
    const res = await this.request(target, { method: "GET", headers: {}, signal, followRedirects: true });
    if (res.statusCode === 200) return res.body;
    res.body.resume();
    if (res.statusCode === 404) throw new RegistryError("BLOB_UNKNOWN", "content layer not found at its URL", { url: redactUrl(target) });
    throw unavailable("content layer URL failed", { url: redactUrl(target), status: res.statusCode });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /**
   * One request with the auth seam: headers first, and on a 401 one retry
   * when the auth step says fresh credentials are worth it.
   */
  private async send(repo: UpstreamRepo, path: string, extra: Record<string, string>, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const { notFound, method = "GET", followRedirects = false, signal } = options;
    const scope: AuthScope = { host: repo.host, repository: repo.repository };
    // The host comes from an image reference in a spec: guarded like any other URL.
    const target = checkOutboundUrl(`${this.origin(repo.host)}${path}`, "registry");
    for (let attempt = 0; ; attempt++) {
      const auth = await this.auth.headers(scope);
      const res = await this.request(target, { method, headers: { ...extra, ...auth }, signal, followRedirects });
      if (res.statusCode === 200) return res;
      res.body.resume();
      const where = { host: repo.host, path, status: res.statusCode };
      if (res.statusCode === 401 && attempt === 0) {
        // Several WWW-Authenticate headers are several challenges, as in one comma-separated header.
        const challenge = [res.headers["www-authenticate"] ?? []].flat().join(", ");
        if (await this.auth.challenge(scope, challenge, auth["authorization"])) continue;
      }
      if (res.statusCode === 404) throw new RegistryError(notFound, "not found upstream", where);
      if (res.statusCode === 401 || res.statusCode === 403) throw new RegistryError(notFound, auth["authorization"] === undefined ? "upstream denied anonymous access" : "upstream denied access with the configured credentials", where);
      if (res.statusCode === 429 || res.statusCode >= 500) throw unavailable("upstream registry unavailable", where);
      throw new RegistryError("UPSTREAM_INVALID", "unexpected upstream answer", where);
    }
  }

  /**
   * One request. Redirects are followed here rather than by undici so that
   * each hop passes the outbound guard (a Location may name anything), and
   * credentials meant for the registry never go to another origin. A request
   * that gets no answer is UNAVAILABLE naming target's host (a caller's
   * abort stays the abort).
   */
  private async request(target: URL, init: { method: "GET" | "HEAD"; headers: Record<string, string>; signal: AbortSignal | undefined; followRedirects: boolean }): Promise<Dispatcher.ResponseData> {
    let url = target;
    let headers = init.headers;
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData;
      try {
        res = await this.agent.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: init.method, headers, signal: init.signal });
      } catch (err) {
        if (init.signal?.aborted) throw err;
        throw unreachable(target.host, err);
      }
      if (!init.followRedirects || !REDIRECT_STATUSES.has(res.statusCode)) return res;
      await res.body.dump();
      const location = headerValue(res.headers["location"]);
      const where = { host: url.host, status: res.statusCode };
      if (location === undefined) throw new RegistryError("UPSTREAM_INVALID", "upstream redirect without a Location", where);
      if (hop >= MAX_REDIRECTS) throw new RegistryError("UPSTREAM_INVALID", "too many upstream redirects", { ...where, limit: MAX_REDIRECTS });
      const next = checkOutboundUrl(location, "redirect target", url);
      if (next.origin !== url.origin) headers = withoutCredentials(headers);
      url = next;
    }
  }
}

interface SendOptions {
  /** The error code of a 404 (and of a denial, which a client cannot fix by retrying). */
  notFound: ErrorCodeName;
  method?: "GET" | "HEAD";
  /** Blobs only: registries redirect them to a CDN. */
  followRedirects?: boolean;
  signal?: AbortSignal | undefined;
}

/** Headers for another origin: a registry's Authorization (and cookies) stay with the registry. */
function withoutCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !["authorization", "cookie", "proxy-authorization"].includes(name.toLowerCase())));
}

/** Plain HTTP only for this machine and hosts the operator listed (registry.insecureRegistries). */
export function allowsPlainHttp(host: string, insecure: ReadonlySet<string>): boolean {
  return isLoopbackHost(host) || insecure.has(host) || insecure.has(host.replace(/:\d+$/, ""));
}

function unreachable(host: string, err: unknown): RegistryError {
  return unavailable("upstream unreachable", { host, reason: (err as Error).message });
}

/** Query strings of content URLs can carry signatures; they stay out of errors and logs. */
function redactUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** bytes, when they hash to digest; message says what did not (quoted in the README's troubleshooting). */
function verified(bytes: Buffer, digest: string, repo: UpstreamRepo, message: string): Buffer {
  const actual = digestOf(bytes);
  if (actual !== digest) {
    throw new RegistryError("UPSTREAM_INVALID", message, { host: repo.host, repository: repo.repository, expected: digest, actual });
  }
  return bytes;
}

function tagKey(repo: UpstreamRepo, tag: string): string {
  return `${repo.host}/${repo.repository}:${tag}`;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The mediaType field of a manifest, which wins over a registry's Content-Type. */
function mediaTypeOf(bytes: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(bytes.toString("utf8"));
    const mediaType = (parsed as { mediaType?: unknown }).mediaType;
    return typeof mediaType === "string" ? mediaType : "";
  } catch {
    return "";
  }
}

export async function readLimited(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        body.destroy();
        throw new RegistryError("UPSTREAM_INVALID", "upstream document too large", { what, limit });
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    throw unavailable("upstream connection failed", { what, reason: (err as Error).message });
  }
  return Buffer.concat(chunks);
}
