import { digestOf } from "../../../shared/digest.ts";
import { MediaType } from "../../../shared/media-types.ts";
import type { Composition } from "./compose.ts";
import type { Descriptor, Family } from "./image.ts";

export interface RenderedManifest {
  family: Family;
  mediaType: string;
  bytes: Buffer;
  digest: string;
}

export type Rendering = RenderedManifest | { family: Family; unrenderable: string };

const MANIFEST_TYPE: Record<Family, string> = { oci: MediaType.ociManifest, docker: MediaType.dockerManifest };
const CONFIG_TYPE: Record<Family, string> = { oci: MediaType.ociConfig, docker: MediaType.dockerConfig };

/** Layer media types with an equivalent in the other family; zstd has none in Docker's. */
const TO_OCI: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayerTar]: MediaType.ociLayer,
  [MediaType.dockerLayerForeignGzip]: MediaType.ociLayerNondistributableGzip,
};
const TO_DOCKER: Record<string, string> = Object.fromEntries(Object.entries(TO_OCI).map(([docker, oci]) => [oci, docker]));

function layerType(mediaType: string, family: Family): string | undefined {
  if (family === "oci") return mediaType.startsWith("application/vnd.oci.") ? mediaType : TO_OCI[mediaType];
  return mediaType.startsWith("application/vnd.docker.") ? mediaType : TO_DOCKER[mediaType];
}

/**
 * The manifest of a composition in one family, every layer and the config
 * typed consistently with it. Built from fixed key orders, so the same
 * composition always gives the same bytes and digest.
 */
export function render(composition: Composition, family: Family): Rendering {
  const layers: Descriptor[] = [];
  for (const { descriptor } of composition.layers) {
    const mediaType = layerType(descriptor.mediaType, family);
    if (mediaType === undefined) return { family, unrenderable: `layer ${descriptor.digest} has media type ${descriptor.mediaType}, which has no ${family === "oci" ? "OCI" : "Docker"} equivalent` };
    const { mediaType: _old, digest, size, ...rest } = descriptor;
    layers.push({ mediaType, digest, size, ...rest });
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE[family],
    config: { mediaType: CONFIG_TYPE[family], digest: composition.config.digest, size: composition.config.bytes.length },
    layers,
    annotations: composition.annotations,
  };
  const bytes = Buffer.from(JSON.stringify(manifest), "utf8");
  return { family, mediaType: MANIFEST_TYPE[family], bytes, digest: digestOf(bytes) };
}

/** Both renderings, the base image's family first. */
export function renderAll(composition: Composition): Rendering[] {
  const other: Family = composition.family === "oci" ? "docker" : "oci";
  return [render(composition, composition.family), render(composition, other)];
}
