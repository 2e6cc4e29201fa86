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

/** Every problem of a refused configuration, exactly as the operator reads it. */
const exactProblems: Array<[string, string, Record<string, string>, string[]]> = [
  ["a port as a string", `{"registry":{"port":"5000"}}`, {}, ["registry.port: Invalid input: expected number, received string"]],
  ["a port out of range", `{"registry":{"port":70000}}`, {}, ["registry.port: Too big: expected number to be <=65535"]],
  ["two problems at once", `{"registy":{},"logLevel":"verbose"}`, {}, [`logLevel: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"`, "registy: unknown key"]],
  ["a static layer of an unknown type", `{"registry":{"staticLayer":[{"ref":"x","type":"dir"}]}}`, {}, [`registry.staticLayer.0.type: Invalid option: expected one of "image"|"file"`]],
  ["an unknown store type", `{"specProvider":{"store":{"type":"s3"}}}`, {}, ["specProvider.store.type: Invalid discriminator value. Expected 'file' | 'nats-kv'"]],
  ["a nats section without servers", `{"nats":{}}`, {}, ["nats.servers: Invalid input: expected array, received undefined"]],
  ["a metrics address without a host part", `{"prometheusAddr":"9500"}`, {}, ["prometheusAddr: expected host:port"]],
  ["a negative shutdown grace", `{"shutdownGraceMs":-1}`, {}, ["shutdownGraceMs: Too small: expected number to be >=0"]],
  ["an array instead of an object", `[1]`, {}, ["(top level): Invalid input: expected object, received array"]],
  ["a port from the environment that is not a number", `{}`, { REGISTRY_FACADE_REGISTRY_PORT: "http" }, ["registry.port: Invalid input: expected number, received string (from REGISTRY_FACADE_REGISTRY_PORT)"]],
  ["a log level from the environment", `{}`, { REGISTRY_FACADE_LOG_LEVEL: "loud" }, [`logLevel: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent" (from REGISTRY_FACADE_LOG_LEVEL)`]],
  ["an empty NATS server list from the environment", `{}`, { REGISTRY_FACADE_NATS_SERVERS: " , " }, ["nats.servers: Too small: expected array to have >=1 items (from REGISTRY_FACADE_NATS_SERVERS)"]],
  ["a bad spec-provider address from the environment", `{}`, { REGISTRY_FACADE_REGISTRY_SPEC_PROVIDERS: "a:1,nohost" }, ["registry.remoteSpecProvider.1.addr: expected host:port (from REGISTRY_FACADE_REGISTRY_SPEC_PROVIDERS)"]],
];

for (const [name, text, env, problems] of exactProblems) {
  test(`${name}: the exact problems are reported`, async () => {
    const file = await configFile(text);
    await assert.rejects(loadConfig(file, env), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, problems);
      assert.ok(err.message.startsWith(`invalid configuration ${file}:\n  - `));
      return true;
    });
  });
}

test("environment variables override the file's deployment knobs", async () => {
  const file = await configFile(`{"logLevel":"info","registry":{"port":32223,"store":"/var/lib/x","insecureRegistries":["up:5000"]},"nats":{"servers":["nats://a:4222"],"subjectPrefix":"p"}}`);
  const config = await loadConfig(file, {
    REGISTRY_FACADE_LOG_LEVEL: "debug",
    REGISTRY_FACADE_REGISTRY_PORT: "5000",
    REGISTRY_FACADE_REGISTRY_SPEC_PROVIDERS: "sp-1:32224, sp-2:32224",
    REGISTRY_FACADE_NATS_SERVERS: "nats://b:4222,nats://c:4222",
    REGISTRY_FACADE_PROMETHEUS_ADDR: "0.0.0.0:9600",
    REGISTRY_FACADE_SHUTDOWN_GRACE_MS: "5000",
    REGISTRY_FACADE_REGISTRY_HOST: "",
  });
  assert.equal(config.logLevel, "debug");
  assert.equal(config.registry.port, 5000);
  assert.equal(config.registry.host, "127.0.0.1", "an empty variable overrides nothing");
  assert.equal(config.registry.store, "/var/lib/x", "keys without a variable keep the file's value");
  assert.deepEqual(config.registry.insecureRegistries, ["up:5000"]);
  assert.deepEqual(config.registry.remoteSpecProvider, [{ addr: "sp-1:32224" }, { addr: "sp-2:32224" }]);
  assert.deepEqual(config.nats, { servers: ["nats://b:4222", "nats://c:4222"], subjectPrefix: "p" });
  assert.equal(config.prometheusAddr, "0.0.0.0:9600");
  assert.equal(config.shutdownGraceMs, 5000);
});

test("overrides apply to the embedded defaults too", async () => {
  const config = await loadConfig(undefined, { REGISTRY_FACADE_SPEC_PROVIDER_PORT: "40000" });
  assert.equal(config.specProvider.port, 40000);
});
