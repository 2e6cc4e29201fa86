import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../tests/support/oci-clients.ts";

/**
 * Seconds skopeo takes to copy an image into a fresh dir: layout (manifest,
 * config and every layer, digests verified by skopeo). The layout is removed after.
 */
export async function skopeoPull(image: string, scratch: string): Promise<number> {
  const dir = await mkdtemp(join(scratch, "pull-"));
  try {
    const started = process.hrtime.bigint();
    await run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", `docker://${image}`, `dir:${join(dir, "image")}`], 300_000);
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
