import { randomBytes } from "node:crypto";
import { request } from "undici";
import type { ImageSpec } from "../gen/registryfacade/provider.ts";
import { MANIFEST_ACCEPT } from "../services/shared/media-types.ts";
import { pushBigLayer } from "../tests/support/big-layer.ts";
import { image, layer, tarOf, type Layer } from "../tests/support/images.ts";
import type { UpstreamRegistry } from "../tests/support/upstream-registry.ts";
import type { FacadeProcess, SpecProvider } from "./facade.ts";

/** Every image of the bench lives in one repository, so the pre-composed image needs no blob copied. */
export const REPO = "bench/images";
export const WORKSPACE = "bench";
export const COMPOSED_TAG = "composed";

export interface Seeded {
  /** The base image's single layer: the blob every blob figure is about. */
  big: Layer;
  /** The spec of a workspace: the same images for all, its own content layer. */
  specFor(id: string): Promise<ImageSpec>;
  /** The composed manifest as the facade serves it and distribution got it. */
  manifest: { bytes: Buffer; mediaType: string; digest: string };
}

/** A gzipped layer of one file of random bytes (incompressible, so its size is what is moved). */
async function randomLayer(path: string, bytes: number): Promise<Layer> {
  return layer([{ path, content: randomBytes(bytes) }]);
}

/**
 * Pushes the base (one uncompressed layer of layerBytes, streamed, never in
 * memory), an IDE and a supervisor image, and returns the workspace spec that
 * composes them with a small direct content layer.
 */
export async function seedImages(upstream: UpstreamRegistry, layerBytes: number): Promise<Pick<Seeded, "big" | "specFor">> {
  const big = await pushBigLayer(upstream, REPO, layerBytes);
  const base = image({ family: "oci", layers: [big], env: ["PATH=/usr/bin:/bin"] });
  await upstream.pushBlob(REPO, base.configDigest, base.config);
  await upstream.pushManifest(REPO, "base", base.manifest, base.mediaType);
  const ide = image({ family: "oci", layers: [await randomLayer("ide/bin/ide", 4 * 1024 * 1024)], env: ["GITPOD_ENV_APPEND_PATH=/ide/bin:"] });
  const supervisor = image({ family: "oci", layers: [await randomLayer("supervisor/supervisor", 1024 * 1024)] });
  await upstream.pushImage(REPO, "ide", ide);
  await upstream.pushImage(REPO, "supervisor", supervisor);
  const specFor = async (id: string): Promise<ImageSpec> => ({
    baseRef: `${upstream.host}/${REPO}:base`,
    ideRef: `${upstream.host}/${REPO}:ide`,
    supervisorRef: `${upstream.host}/${REPO}:supervisor`,
    ideLayerRef: [],
    contentLayer: [{ spec: { $case: "direct", value: { content: await tarOf([{ path: "workspace/README.md", content: `workspace ${id}\n` }]) } } }],
  });
  return { big, specFor };
}

/**
 * Registers the workspace, has the facade compose it, and pushes the very
 * same manifest, config and content layer into distribution as a plain
 * image: both registries then serve identical bytes.
 */
export async function seedComposed(upstream: UpstreamRegistry, specs: SpecProvider, facade: FacadeProcess, spec: ImageSpec): Promise<Seeded["manifest"]> {
  await specs.put(WORKSPACE, spec);
  const res = await request(`${facade.url}/v2/remote/${WORKSPACE}/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`composed manifest: ${res.statusCode} ${bytes.toString()}`);
  const mediaType = String(res.headers["content-type"]);
  const composed = JSON.parse(bytes.toString("utf8")) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const digest of [composed.config.digest, ...composed.layers.map((l) => l.digest)]) {
    const present = await request(`${upstream.url}/v2/${REPO}/blobs/${digest}`, { method: "HEAD" });
    await present.body.dump();
    if (present.statusCode === 200) continue;
    // Only what the facade made itself (config, direct content): small documents.
    const blob = await request(`${facade.url}/v2/remote/${WORKSPACE}/blobs/${digest}`);
    await upstream.pushBlob(REPO, digest, Buffer.from(await blob.body.arrayBuffer()));
  }
  await upstream.pushManifest(REPO, COMPOSED_TAG, bytes, mediaType);
  return { bytes, mediaType, digest: String(res.headers["docker-content-digest"]) };
}
