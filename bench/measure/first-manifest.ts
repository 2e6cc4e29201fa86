import { request } from "undici";
import type { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { MANIFEST_ACCEPT } from "../../services/shared/media-types.ts";
import type { SpecProvider } from "../facade.ts";

/** Milliseconds of one manifest GET (status checked). */
export async function timedManifest(url: string): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await request(url, { headers: { accept: MANIFEST_ACCEPT } });
  await res.body.arrayBuffer();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode}`);
  return ms;
}

/**
 * The first manifest GET of `count` new workspaces, one after the other,
 * each registered just before with the same images as the warm one and a
 * content layer of its own: the spec is new, the image metadata is not.
 * Returns the times in ms.
 */
export async function firstManifests(registryUrl: string, specs: SpecProvider, specFor: (id: string) => Promise<ImageSpec>, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = `new-${Date.now().toString(36)}-${i}`;
    await specs.put(id, await specFor(id));
    times.push(await timedManifest(`${registryUrl}/v2/remote/${id}/manifests/latest`));
  }
  return times;
}
