import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcess } from "../support/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

for (const [service, bin] of [
  ["registry", "services/registry/bin.ts"],
  ["spec-provider", "services/spec-provider/bin.ts"],
  ["registry-facade", "services/all-in-one/bin.ts"],
] as const) {
  test(`${bin} refuses a bad configuration with exit code 2 and one message naming the key, no stack`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "facade-bin-config-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, "config.json");
    await writeFile(config, JSON.stringify({ registry: { port: "32223", prot: 1 } }));
    const child = startProcess(service, process.execPath, ["--import", "tsx", bin, "--config", config], { cwd: ROOT });
    assert.equal(await child.exited, 2, child.log);
    assert.match(child.log, new RegExp(`^${service}: invalid configuration ${config.replaceAll(".", "\\.")}:`, "m"));
    assert.match(child.log, /registry\.port: .*expected number/);
    assert.match(child.log, /registry\.prot: unknown key/);
    assert.doesNotMatch(child.log, /\n\s+at /, "no stack trace");
  });
}
