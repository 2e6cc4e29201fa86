import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { compositionDuration } from "../../services/shared/telemetry/metrics.ts";
import { startRegistry } from "../../services/registry/src/index.ts";
import { image, layer } from "../support/images.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/** Compositions run so far in this process (the histogram's count of successes). */
async function compositions(): Promise<number> {
  const { values } = await compositionDuration.get();
  return values.find((v) => v.metricName?.endsWith("_count") && v.labels["result"] === "ok")?.value ?? 0;
}

test("a warm manifest by tag comes from memory until a tag of its images moves", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-composed-"));
  const upstream = await UpstreamRegistry.start();
  try {
    const push = async (text: string) => upstream.pushImage("base", "1", image({ family: "oci", layers: [await layer([{ path: "v.txt", content: text }])] }));
    const ref = await push("one\n");
    const specFile = join(dir, "specs.json");
    await writeFile(specFile, JSON.stringify({ ws: { baseRef: ref } }));
    // Every pull revalidates the tag (no tag cache TTL), so a moved tag is seen at the next pull.
    const config = parseConfig({ registry: { port: 0, store: join(dir, "store"), fixedSpecFN: specFile, tagCacheTtlMs: 0 } }, "(test)");
    const registry = await startRegistry(config, createLogger({ level: "silent", service: "registry" }));
    try {
      const get = async (reference = "latest") => {
        const res = await request(`http://127.0.0.1:${registry.port}/v2/fixed/ws/manifests/${reference}`);
        await res.body.dump();
        assert.equal(res.statusCode, 200);
        return String(res.headers["docker-content-digest"]);
      };
      const before = await compositions();
      const first = await get();
      assert.equal(await get(), first);
      assert.equal(await get("another-tag"), first);
      assert.equal(await compositions(), before + 1, "composed once, then answered from memory");

      await push("two\n");
      const moved = await get();
      assert.notEqual(moved, first, "the moved base tag gives a new composition");
      assert.equal(await compositions(), before + 2);
      assert.equal(await get(first), first, "the earlier manifest stays reachable by digest");
    } finally {
      await registry.stop();
    }
  } finally {
    await upstream.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
