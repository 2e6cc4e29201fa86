import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../services/shared/config/load.ts";

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "facade-config-"));
  const file = join(dir, "config.json");
  await writeFile(file, text);
  return file;
}

test("no file gives the embedded defaults on loopback", async () => {
  const config = await loadConfig(undefined);
  assert.equal(config.registry.host, "127.0.0.1");
  assert.equal(config.registry.port, 32223);
  assert.equal(config.specProvider.port, 32224);
  assert.deepEqual(config.specProvider.store, { type: "file", path: ".data/specs" });
  assert.equal(config.nats, undefined);
});

const badFiles: Array<[string, string, RegExp]> = [
  ["not JSON", "{", /not valid JSON/],
  ["wrong type", `{"registry":{"port":"5000"}}`, /registry\.port: .*expected number/],
  ["unknown key", `{"registry":{"prot":5000}}`, /registry\.prot: unknown key/],
  ["unknown top-level key", `{"registy":{}}`, /registy: unknown key/],
  ["bad static layer type", `{"registry":{"staticLayer":[{"ref":"x","type":"dir"}]}}`, /registry\.staticLayer\.0\.type/],
  ["bad spec-provider address", `{"registry":{"remoteSpecProvider":[{"addr":"nohost"}]}}`, /registry\.remoteSpecProvider\.0\.addr: expected host:port/],
  ["unknown store", `{"specProvider":{"store":{"type":"s3"}}}`, /specProvider\.store\.type/],
  ["bad prefix", `{"registry":{"prefix":"v2/"}}`, /registry\.prefix/],
];

for (const [name, text, message] of badFiles) {
  test(`a configuration with ${name} is refused, naming the key`, async () => {
    const file = await configFile(text);
    await assert.rejects(loadConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, message);
      assert.ok(err.message.includes(file), "the message names the file");
      return true;
    });
  });
}

test("the example configuration in the repository is valid", async () => {
  const config = await loadConfig(new URL("../../config/example.json", import.meta.url).pathname);
  assert.equal(config.registry.port, 32223);
  assert.deepEqual(config.specProvider.store, { type: "nats-kv", bucket: "registry-facade-specs" });
  assert.deepEqual(config.nats?.servers, ["nats://nats:4222"]);
});
