import { request } from "undici";
import { MANIFEST_ACCEPT } from "../../services/shared/media-types.ts";
import { CorruptingProxy } from "../../tests/support/corrupting-proxy.ts";
import type { UpstreamRegistry } from "../../tests/support/upstream-registry.ts";
import type { FacadeProcess, SpecProvider } from "../facade.ts";
import { REPO } from "../seed.ts";
import { rssDuringPulls, type RssFigures } from "./pulls.ts";

export interface SingleFlightFigures {
  /** GETs of the blob that reached the upstream. */
  upstreamGets: number;
  /** VmRSS of the registry meanwhile. */
  rss: RssFigures;
}

/**
 * `clients` concurrent GETs of a blob the registry has never fetched, through
 * a workspace whose base image is reached through a proxy that records every
 * request (a CorruptingProxy with nothing to corrupt): how many blob GETs
 * got upstream. Needs a registry that has not pulled the blob yet.
 */
export async function singleFlight(upstream: UpstreamRegistry, specs: SpecProvider, facade: FacadeProcess, digest: string, size: number, clients: number): Promise<SingleFlightFigures> {
  const proxy = await CorruptingProxy.start(upstream.host);
  try {
    const id = "single-flight";
    await specs.put(id, { baseRef: `${proxy.host}/${REPO}:base` });
    const manifest = await request(`${facade.url}/v2/remote/${id}/manifests/latest`, { headers: { accept: MANIFEST_ACCEPT } });
    await manifest.body.dump();
    if (manifest.statusCode !== 200) throw new Error(`single-flight manifest: ${manifest.statusCode}`);
    const rss = await rssDuringPulls(facade.pid, `${facade.url}/v2/remote/${id}/blobs/${digest}`, clients, size);
    const upstreamGets = proxy.requests.filter((r) => r === `GET /v2/${REPO}/blobs/${digest}`).length;
    return { upstreamGets, rss };
  } finally {
    await proxy.stop();
  }
}
