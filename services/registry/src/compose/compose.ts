import type { ImageSpec, RemoteContentLayer } from "../../../../gen/registryfacade/provider.ts";
import type { PlatformConfig } from "../../../shared/config/schema.ts";
import { digestOf, isDigest } from "../../../shared/digest.ts";
import { LAYER_MEDIA_TYPES, MediaType } from "../../../shared/media-types.ts";
import { compositionFailed } from "../errors.ts";
import type { BlobSource, Store } from "../store.ts";
import type { UpstreamClient } from "../upstream/client.ts";
import { applyEnvRules } from "./env.ts";
import type { StaticFileLayer } from "./file-layer.ts";
import { resolveImage, type Descriptor, type Family, type ImageConfig, type ResolvedImage } from "./image.ts";

/** A layer of the composed image and where its blob is read from. */
export interface ComposedLayer {
  descriptor: Descriptor;
  source: BlobSource;
}

/** Everything a manifest rendering needs; independent of OCI or Docker. */
export interface Composition {
  /** The base image's family: the rendering offered first. */
  family: Family;
  config: { bytes: Buffer; digest: string };
  layers: ComposedLayer[];
  annotations: Record<string, string>;
}

/** Static layers as configured: images by reference, files already described at start-up. */
export type StaticLayer = { type: "image"; ref: string } | { type: "file"; layer: StaticFileLayer };

export interface ComposeDeps {
  client: UpstreamClient;
  store: Store;
  platform: PlatformConfig;
  staticLayers: readonly StaticLayer[];
}

type AddOn = { kind: "image"; ref: string; role: string } | { kind: "file"; layer: StaticFileLayer };

interface AddedLayer extends ComposedLayer {
  diffId: string;
  createdBy: string;
}

export const SKIP_N_LABEL = "skip-n.registry-facade.gitpod.io";

const UNCOMPRESSED_LAYER_TYPES: ReadonlySet<string> = new Set([MediaType.ociLayer, MediaType.ociLayerNondistributable, MediaType.dockerLayerTar]);

/**
 * Composes a workspace image: the base image's layers, the static layers, the
 * IDE, supervisor and IDE layer images, then the content layers. The base
 * config is patched as JSON so fields this code does not know survive.
 */
export async function compose(spec: ImageSpec, deps: ComposeDeps, pinned?: ReadonlyMap<string, string>): Promise<Composition> {
  if (spec.baseRef === "") throw compositionFailed("the spec has no base_ref");
  const addOns = addOnsOf(spec, deps.staticLayers);

  // Every image is resolved concurrently; the order stays that of addOns.
  const [base, resolved] = await Promise.all([
    resolveImage(deps.client, spec.baseRef, deps.platform, pinned?.get(spec.baseRef)),
    Promise.all(addOns.map((a) => (a.kind === "image" ? resolveImage(deps.client, a.ref, deps.platform, pinned?.get(a.ref)) : undefined))),
  ]);
  const baseDiffIds = base.config.rootfs?.diff_ids;
  if (!Array.isArray(baseDiffIds) || baseDiffIds.length !== base.layers.length) {
    throw compositionFailed(`${spec.baseRef}: config rootfs.diff_ids does not match the manifest's layers`);
  }

  const added: AddedLayer[] = [];
  const addOnEnvs: string[][] = [];
  addOns.forEach((addOn, i) => {
    const image = resolved[i];
    if (addOn.kind === "image" && image) {
      added.push(...imageLayers(image, addOn.role));
      addOnEnvs.push(image.config.config?.Env ?? []);
    } else if (addOn.kind === "file") {
      const { layer } = addOn;
      added.push({ descriptor: { mediaType: MediaType.ociLayerGzip, digest: layer.digest, size: layer.size }, source: { kind: "file", path: layer.path }, diffId: layer.diffId, createdBy: "registry-facade: static file layer" });
    }
  });
  for (const [i, layer] of spec.contentLayer.entries()) {
    const content = layer.spec;
    if (content?.$case === "remote") added.push(remoteLayer(content.value, i));
    else if (content?.$case === "direct") added.push(await directLayer(content.value.content, i, deps.store));
    else throw compositionFailed(`content layer ${i} is neither remote nor direct`);
  }

  const config = patchConfig(base, added, addOnEnvs);
  const configBytes = Buffer.from(JSON.stringify(config), "utf8");
  return {
    family: base.family,
    config: { bytes: configBytes, digest: digestOf(configBytes) },
    layers: [...base.layers.map((descriptor) => ({ descriptor, source: upstream(base) })), ...added.map(({ descriptor, source }) => ({ descriptor, source }))],
    annotations: {
      "org.opencontainers.image.base.name": spec.baseRef,
      "org.opencontainers.image.base.digest": base.manifestDigest,
      // Gitpod's names, for tools that read them.
      "io.gitpod.workspace-image.ref": spec.baseRef,
      "io.gitpod.workspace-image.size": String(base.layers.reduce((sum, l) => sum + l.size, 0)),
    },
  };
}

/** The add-ons in layer order: static layers, then the IDE, supervisor and IDE layer images; empty refs skipped. */
function addOnsOf(spec: ImageSpec, staticLayers: readonly StaticLayer[]): AddOn[] {
  const candidates: AddOn[] = [
    ...staticLayers.map((s): AddOn => (s.type === "image" ? { kind: "image", ref: s.ref, role: "static layer image" } : { kind: "file", layer: s.layer })),
    { kind: "image", ref: spec.ideRef, role: "ide" },
    { kind: "image", ref: spec.supervisorRef, role: "supervisor" },
    ...spec.ideLayerRef.map((ref): AddOn => ({ kind: "image", ref, role: "ide layer" })),
  ];
  return candidates.filter((a) => a.kind === "file" || a.ref !== "");
}

/** Every image reference a composition of spec resolves: the base, then the add-on images. */
export function imageRefs(spec: ImageSpec, staticLayers: readonly StaticLayer[]): string[] {
  return [spec.baseRef, ...addOnsOf(spec, staticLayers).flatMap((a) => (a.kind === "image" ? [a.ref] : []))];
}

function upstream(image: ResolvedImage): BlobSource {
  return { kind: "upstream", host: image.repo.host, repository: image.repo.repository };
}

/** An add-on image's layers, from the skip-n label's index on, with their diff ids. */
function imageLayers(image: ResolvedImage, role: string): AddedLayer[] {
  const diffIds = image.config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== image.layers.length || !diffIds.every((d) => typeof d === "string" && isDigest(d))) {
    throw compositionFailed(`${role} ${image.ref}: config rootfs.diff_ids does not match the manifest's layers`);
  }
  const label = image.config.config?.Labels?.[SKIP_N_LABEL];
  let skip = 0;
  if (label !== undefined) {
    if (!/^\d+$/.test(label) || Number(label) > image.layers.length) {
      throw compositionFailed(`${role} ${image.ref}: label ${SKIP_N_LABEL}=${JSON.stringify(label)} is not a layer count between 0 and ${image.layers.length}`);
    }
    skip = Number(label);
  }
  return image.layers.slice(skip).map((descriptor, i) => ({
    descriptor,
    source: upstream(image),
    diffId: diffIds[skip + i] as string,
    createdBy: `registry-facade: ${role} ${image.ref} layer ${skip + i}`,
  }));
}

function remoteLayer(layer: RemoteContentLayer, index: number): AddedLayer {
  const what = `content layer ${index}`;
  if (!isDigest(layer.digest)) throw compositionFailed(`${what}: invalid digest ${JSON.stringify(layer.digest)}`);
  if (!LAYER_MEDIA_TYPES.has(layer.mediaType)) throw compositionFailed(`${what}: unsupported media type ${JSON.stringify(layer.mediaType)}`);
  const size = Number(layer.size);
  if (!Number.isSafeInteger(size) || size <= 0) throw compositionFailed(`${what}: invalid size ${layer.size}`);
  let url: URL;
  try {
    url = new URL(layer.url);
  } catch {
    throw compositionFailed(`${what}: invalid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw compositionFailed(`${what}: URL must be http or https`);
  let diffId = layer.diffId;
  if (diffId === "") {
    if (!UNCOMPRESSED_LAYER_TYPES.has(layer.mediaType)) throw compositionFailed(`${what}: a compressed layer needs a diff_id`);
    diffId = layer.digest;
  } else if (!isDigest(diffId)) {
    throw compositionFailed(`${what}: invalid diff_id ${JSON.stringify(diffId)}`);
  }
  return { descriptor: { mediaType: layer.mediaType, digest: layer.digest, size }, source: { kind: "url", url: layer.url }, diffId, createdBy: `registry-facade: content layer ${index}` };
}

/** A direct layer is stored now, so serving it needs nothing but the store. */
async function directLayer(content: Buffer, index: number, store: Store): Promise<AddedLayer> {
  if (content.length === 0) throw compositionFailed(`content layer ${index}: empty direct content`);
  const digest = digestOf(content);
  await store.putBlob(digest, content);
  return { descriptor: { mediaType: MediaType.ociLayer, digest, size: content.length }, source: { kind: "store" }, diffId: digest, createdBy: `registry-facade: content layer ${index}` };
}

/**
 * The base config with the added layers' diff ids, one history entry per
 * added layer and the add-on images' env rules. Parsed fresh from the bytes
 * (the resolved config may be shared through the cache) and changed in place.
 */
function patchConfig(base: ResolvedImage, added: readonly AddedLayer[], addOnEnvs: readonly string[][]): ImageConfig {
  const config = JSON.parse(base.configBytes.toString("utf8")) as ImageConfig;
  const rootfs = (config.rootfs ??= { type: "layers", diff_ids: [] });
  rootfs.diff_ids = [...(rootfs.diff_ids ?? []), ...added.map((l) => l.diffId)];

  const history = config.history ?? [];
  // History and diff_ids must line up (entries with empty_layer do not count).
  // A base whose history is short gets neutral entries first, so the ones
  // added here describe their own layers.
  let described = history.filter((h) => h.empty_layer !== true).length;
  for (; described < base.layers.length; described++) history.push({ created_by: "registry-facade: base layer without history" });
  history.push(...added.map((l) => ({ created_by: l.createdBy })));
  config.history = history;

  const rules = addOnEnvs.flat();
  if (rules.some((e) => e.startsWith("GITPOD_ENV_"))) {
    const runConfig = (config.config ??= {});
    runConfig.Env = applyEnvRules(runConfig.Env ?? [], rules);
  }
  return config;
}
