import { formatImageRef, InvalidImageRefError, manifestReference, parseImageRef, registryHost, type ImageRef } from "../../../shared/image-ref.ts";
import { MediaType } from "../../../shared/media-types.ts";
import { isDigest } from "../../../shared/digest.ts";
import type { PlatformConfig } from "../../../shared/config/schema.ts";
import { compositionFailed, RegistryError } from "../errors.ts";
import type { UpstreamClient, UpstreamRepo } from "../upstream/client.ts";

export type Family = "oci" | "docker";

/** A content descriptor as manifests carry it; fields beyond these are kept verbatim. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

/** An image reference resolved to one platform's manifest and its config. */
export interface ResolvedImage {
  ref: string;
  repo: UpstreamRepo;
  /** Digest of the platform manifest (not of the index it was picked from). */
  manifestDigest: string;
  family: Family;
  layers: Descriptor[];
  /** The config as bytes (kept for the base, which is patched) and parsed. */
  configBytes: Buffer;
  config: ImageConfig;
}

/** The parts of an image config composition reads; the rest is carried as unknown JSON. */
export interface ImageConfig {
  rootfs?: { type?: string; diff_ids?: string[] };
  history?: Array<{ empty_layer?: boolean; [k: string]: unknown }>;
  config?: { Env?: string[]; Labels?: Record<string, string> | null; [k: string]: unknown } | null;
  [k: string]: unknown;
}

const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

/**
 * Resolves ref (tag or digest, index or manifest) to the configured platform's
 * image. pinned: the digest the ref was already resolved to by the caller,
 * so a composition uses exactly the digests its cache key was made of.
 */
export async function resolveImage(client: UpstreamClient, ref: string, platform: PlatformConfig, pinned?: string): Promise<ResolvedImage> {
  try {
    return await resolve(client, ref, platform, pinned);
  } catch (err) {
    // "not found upstream" alone does not say which of the images was missing.
    if (err instanceof RegistryError && err.code === "MANIFEST_UNKNOWN" && !err.message.startsWith("cannot compose")) throw compositionFailed(`${ref}: ${err.message}`, err.detail);
    throw err;
  }
}

/** Where ref lives upstream; an unparsable ref cannot be composed. */
function locate(ref: string): { parsed: ImageRef; repo: UpstreamRepo } {
  let parsed: ImageRef;
  try {
    parsed = parseImageRef(ref);
  } catch (err) {
    if (err instanceof InvalidImageRefError) throw compositionFailed(err.message);
    throw err;
  }
  return { parsed, repo: { host: registryHost(parsed), repository: parsed.path } };
}

/** The digest of the manifest (or index) ref points to now: its own digest, or its tag resolved upstream. */
export async function currentDigest(client: UpstreamClient, ref: string): Promise<string> {
  const { parsed, repo } = locate(ref);
  return parsed.digest ?? (await client.resolveTag(repo, manifestReference(parsed)));
}

/** Why ref's tag resolves to a digest served stale (upstream failing), or undefined. */
export function staleResolution(client: UpstreamClient, ref: string): string | undefined {
  const { parsed, repo } = locate(ref);
  if (parsed.digest) return undefined;
  const reason = client.staleTag(repo, manifestReference(parsed));
  return reason === undefined ? undefined : `${ref}: ${reason}`;
}

async function resolve(client: UpstreamClient, ref: string, platform: PlatformConfig, pinned: string | undefined): Promise<ResolvedImage> {
  const { parsed, repo } = locate(ref);
  const digest = pinned ?? (await currentDigest(client, ref));
  let doc = await client.manifest(repo, digest);
  let manifest = parseJson(doc.bytes, `manifest of ${ref}`);
  let kind = manifestKind(manifest, doc.mediaType);

  if (kind === "index") {
    const child = pickPlatform(manifest, platform, formatImageRef(parsed));
    doc = await client.manifest(repo, child);
    manifest = parseJson(doc.bytes, `manifest ${child} of ${ref}`);
    kind = manifestKind(manifest, doc.mediaType);
    if (kind === "index") throw compositionFailed(`${ref}: the platform entry ${child} is itself an index`);
  }

  const layers = manifest["layers"];
  const configDescriptor = manifest["config"] as Descriptor | undefined;
  if (!Array.isArray(layers) || !isDescriptor(configDescriptor) || !layers.every(isDescriptor)) {
    throw compositionFailed(`${ref}: manifest has no valid config and layers`);
  }
  const configBytes = await client.blobDocument(repo, configDescriptor.digest);
  const config = parseJson(configBytes, `config of ${ref}`) as ImageConfig;
  return { ref, repo, manifestDigest: doc.digest, family: kind, layers: layers as Descriptor[], configBytes, config };
}

function manifestKind(manifest: Record<string, unknown>, mediaType: string): Family | "index" {
  const type = typeof manifest["mediaType"] === "string" ? (manifest["mediaType"] as string) : mediaType;
  if (INDEX_TYPES.has(type) || (type === "" && Array.isArray(manifest["manifests"]))) return "index";
  if (type === MediaType.dockerManifest) return "docker";
  // OCI manifests may omit mediaType (umoci writes none).
  if (type === MediaType.ociManifest || type === "" || type === "application/json") return "oci";
  throw compositionFailed(`unsupported manifest media type ${JSON.stringify(type)}`);
}

/**
 * The entry for the configured platform. A missing platform is an error: a
 * workspace silently running another architecture is worse than not starting.
 * Without a configured variant, an entry without variant is preferred.
 */
function pickPlatform(index: Record<string, unknown>, want: PlatformConfig, ref: string): string {
  const entries = Array.isArray(index["manifests"]) ? (index["manifests"] as Array<Record<string, unknown>>) : [];
  const matching = entries.filter((e) => {
    const p = e["platform"] as { os?: string; architecture?: string; variant?: string } | undefined;
    if (p?.os !== want.os || p.architecture !== want.architecture) return false;
    return want.variant === undefined || p.variant === want.variant;
  });
  const chosen = matching.find((e) => (e["platform"] as { variant?: string }).variant === undefined) ?? matching[0];
  const digest = chosen?.["digest"];
  if (typeof digest !== "string" || !isDigest(digest)) {
    const available = entries.map((e) => {
      const p = e["platform"] as { os?: string; architecture?: string; variant?: string } | undefined;
      return [p?.os, p?.architecture, p?.variant].filter(Boolean).join("/");
    });
    const wanted = [want.os, want.architecture, want.variant].filter(Boolean).join("/");
    throw compositionFailed(`${ref} has no ${wanted} image`, { available });
  }
  return digest;
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor | undefined;
  return typeof d === "object" && d !== null && typeof d.mediaType === "string" && typeof d.digest === "string" && isDigest(d.digest) && Number.isSafeInteger(d.size) && d.size >= 0;
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw compositionFailed(`${what} is not a JSON object`);
}
