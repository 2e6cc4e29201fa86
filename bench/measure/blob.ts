import { wrk } from "./wrk.ts";
import { blobUrl, type Target } from "./target.ts";

/** Bytes per second delivered to `clients` connections GETting the blob over and over. */
export async function blobThroughput(target: Target, digest: string, clients: number, seconds: number): Promise<number> {
  const r = await wrk({ url: blobUrl(target, digest), connections: clients, seconds, timeoutSeconds: 120 });
  return r.bytes / r.seconds;
}
