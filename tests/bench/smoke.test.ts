import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../support/oci-clients.ts";

/**
 * `npm run bench` with tiny sizes, so the harness cannot rot: every figure
 * is produced, the report is written where it is told (never BENCHMARKS.md),
 * and a CPU profile is summarised. Speed is never asserted here.
 */
test("the benchmark harness produces every figure in a smoke run", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-bench-smoke-"));
  try {
    const out = join(dir, "BENCH.md");
    const json = join(dir, "bench.json");
    const before = await stat("BENCHMARKS.md").then((s) => s.mtimeMs, () => undefined);
    await run(process.execPath, ["--import", "tsx", "bench/run.ts", "--layer-mib", "1", "--seconds", "1", "--cold-runs", "1", "--memory-clients", "4", "--single-flight-clients", "10", "--new-workspaces", "3", "--profile", "blob", "--out", out, "--json", json], 120_000);
    assert.equal(await stat("BENCHMARKS.md").then((s) => s.mtimeMs, () => undefined), before, "BENCHMARKS.md left alone");

    const { measured: m, rows, profiles } = JSON.parse(await readFile(json, "utf8"));
    for (const side of ["distribution", "facade"]) {
      const figures = [m.manifest[side].rps, m.manifest[side].p50Ms, m.manifest[side].p99Ms, m.blob1[side], m.blob8[side], ...m.cold[side], m.memory[side].peakMiB, ...m.firstManifest[side]];
      assert.equal(m.cold[side].length, 1);
      assert.equal(m.firstManifest[side].length, 3);
      for (const f of figures) assert.ok(typeof f === "number" && f > 0, `${side}: ${JSON.stringify(figures)}`);
    }
    assert.equal(m.singleFlight.upstreamGets, 1, "one upstream GET for concurrent cold GETs of one blob");
    assert.equal(rows.length, 9);
    assert.ok(profiles.blob.top.length > 0 && profiles.blob.busyMs > 0);

    const report = await readFile(out, "utf8");
    assert.match(report, /\| manifest GET by tag, 50 connections: requests\/s \| \d+ \| \d+ \| [\d.]+ \| ≥ 1\.0 \| /);
    assert.match(report, /command: `npm run bench -- --layer-mib 1/);
    assert.match(report, /### Profile: blob/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
