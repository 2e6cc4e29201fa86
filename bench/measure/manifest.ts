import { MANIFEST_ACCEPT } from "../../services/shared/media-types.ts";
import { wrk } from "./wrk.ts";
import { manifestUrl, type Target } from "./target.ts";

export interface ManifestFigures {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/** Warm manifest GETs by tag at 50 connections, with the Accept list runtimes send. */
export async function manifestLoad(target: Target, seconds: number): Promise<ManifestFigures> {
  const url = manifestUrl(target);
  const headers = { Accept: MANIFEST_ACCEPT };
  // Warm-up: whatever a first request resolves, the measured ones find ready.
  await wrk({ url, connections: 50, seconds: 1, headers });
  const r = await wrk({ url, connections: 50, seconds, headers });
  return { rps: r.requests / r.seconds, p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000 };
}
