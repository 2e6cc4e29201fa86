import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";

/**
 * Test images built from scratch: tar layers made with tar-stream, configs
 * and manifests written as JSON. No Docker involved.
 */
export type Entry =
  | { type?: "file"; path: string; content: string | Buffer; mode?: number }
  | { type: "dir"; path: string }
  | { type: "symlink"; path: string; target: string };

export interface Layer {
  /** The blob as pushed (gzip unless built uncompressed). */
  blob: Buffer;
  digest: string;
  diffId: string;
  size: number;
  gzip: boolean;
}

export type Family = "oci" | "docker";

export interface BuiltImage {
  family: Family;
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  config: Buffer;
  configDigest: string;
  layers: Layer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuiltIndex {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  children: Array<{ image: BuiltImage }>;
}

export const sha256 = (data: Uint8Array | string): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** An uncompressed tar of the entries, in order, with fixed times for stable digests. */
export async function tarOf(entries: readonly Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  const mtime = new Date("2024-01-01T00:00:00Z");
  for (const entry of entries) {
    if (entry.type === "dir") pack.entry({ name: entry.path, type: "directory", mode: 0o755, mtime });
    else if (entry.type === "symlink") pack.entry({ name: entry.path, type: "symlink", linkname: entry.target, mtime });
    else pack.entry({ name: entry.path, mode: entry.mode ?? 0o644, mtime }, Buffer.from(entry.content));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export async function layer(entries: readonly Entry[], options: { gzip?: boolean } = {}): Promise<Layer> {
  const tarBytes = await tarOf(entries);
  const gzip = options.gzip ?? true;
  const blob = gzip ? gzipSync(tarBytes) : tarBytes;
  return { blob, digest: sha256(blob), diffId: sha256(tarBytes), size: blob.length, gzip };
}

const TYPES = {
  oci: {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    index: "application/vnd.oci.image.index.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar+gzip",
    layerTar: "application/vnd.oci.image.layer.v1.tar",
  },
  docker: {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    index: "application/vnd.docker.distribution.manifest.list.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    layerTar: "application/vnd.docker.image.rootfs.diff.tar",
  },
} as const;

export function layerMediaType(family: Family, l: Layer): string {
  return l.gzip ? TYPES[family].layer : TYPES[family].layerTar;
}

export interface ImageOptions {
  family: Family;
  layers: Layer[];
  env?: string[];
  labels?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
  /** Extra top-level config fields (kept verbatim by a correct composer). */
  extraConfig?: Record<string, unknown>;
  /** Extra fields inside config.config (Healthcheck, Shell, ...). */
  extraRunConfig?: Record<string, unknown>;
  /** Leave out history entirely, or add empty_layer entries between the real ones. */
  history?: "none" | "with-empty";
  /** Leave out the manifest's mediaType, as umoci does (valid OCI). */
  omitMediaType?: boolean;
}

export function image(options: ImageOptions): BuiltImage {
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const history: Array<Record<string, unknown>> = [];
  if (options.history !== "none") {
    for (const [i] of options.layers.entries()) {
      if (options.history === "with-empty") history.push({ created_by: `ENV step ${i}`, empty_layer: true });
      history.push({ created_by: `layer ${i}` });
    }
  }
  const configJson = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: options.env ?? [], Labels: options.labels ?? {}, ...options.extraRunConfig },
    rootfs: { type: "layers", diff_ids: options.layers.map((l) => l.diffId) },
    ...(options.history === "none" ? {} : { history }),
    ...options.extraConfig,
  };
  const config = Buffer.from(JSON.stringify(configJson));
  const types = TYPES[options.family];
  const manifestJson = {
    schemaVersion: 2,
    ...(options.omitMediaType ? {} : { mediaType: types.manifest }),
    config: { mediaType: types.config, digest: sha256(config), size: config.length },
    layers: options.layers.map((l) => ({ mediaType: layerMediaType(options.family, l), digest: l.digest, size: l.size })),
  };
  const manifest = Buffer.from(JSON.stringify(manifestJson));
  return { family: options.family, manifest, manifestDigest: sha256(manifest), mediaType: types.manifest, config, configDigest: sha256(config), layers: options.layers, platform };
}

export function index(family: Family, children: BuiltImage[]): BuiltIndex {
  const json = {
    schemaVersion: 2,
    mediaType: TYPES[family].index,
    manifests: children.map((c) => ({ mediaType: c.mediaType, digest: c.manifestDigest, size: c.manifest.length, platform: c.platform })),
  };
  const bytes = Buffer.from(JSON.stringify(json));
  return { bytes, digest: sha256(bytes), mediaType: TYPES[family].index, children: children.map((image) => ({ image })) };
}
