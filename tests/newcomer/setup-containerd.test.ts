import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { startRegistry, type RunningRegistry } from "../../services/registry/src/index.ts";
import { image, layer } from "../support/images.ts";
import { run, TestContainerd } from "../support/oci-clients.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { facadectl } from "../support/facadectl.ts";

/**
 * `facadectl setup containerd`: the hosts.toml it writes, and a real
 * containerd pulling through the registry with nothing but that file.
 */
/** Plain objects (smol-toml's tables have no prototype), for deepEqual. */
const parseToml = (text: string): unknown => JSON.parse(JSON.stringify(parse(text)));

let dir: string;
let upstream: UpstreamRegistry;
let registry: RunningRegistry;
/** The same registry once more, over HTTPS with a self-signed certificate for 127.0.0.1. */
let tlsRegistry: RunningRegistry;
let certificate: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-setup-"));
  upstream = await UpstreamRegistry.start();
  const base = image({ family: "oci", layers: [await layer([{ path: "hello.txt", content: "through hosts.toml\n" }])] });
  const specFile = join(dir, "specs.json");
  await writeFile(specFile, JSON.stringify({ demo: { baseRef: await upstream.pushImage("base", "1", base) } }));
  const logger = createLogger({ level: "silent", service: "registry" });
  registry = await startRegistry(parseConfig({ logLevel: "silent", registry: { port: 0, store: join(dir, "store"), fixedSpecFN: specFile } }), logger);
  certificate = join(dir, "tls.crt");
  const key = join(dir, "tls.key");
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
  const tls = { crt: certificate, key };
  tlsRegistry = await startRegistry(parseConfig({ logLevel: "silent", registry: { port: 0, store: join(dir, "tls-store"), fixedSpecFN: specFile, tls } }), logger);
});
after(async () => {
  await registry?.stop();
  await tlsRegistry?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test("--dry-run prints the hosts.toml for a plain-HTTP registry and writes nothing", async () => {
  const configDir = join(dir, "dry");
  const result = await facadectl("setup", "containerd", "--host", "127.0.0.1:32223", "--config-dir", configDir, "--dry-run");
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(parseToml(result.stdout), {
    server: "http://127.0.0.1:32223",
    host: { "http://127.0.0.1:32223": { capabilities: ["pull", "resolve"], skip_verify: true } },
  });
  await assert.rejects(readFile(join(configDir, "127.0.0.1:32223", "hosts.toml")), { code: "ENOENT" });
});

test("--ca makes it HTTPS and puts the CA next to hosts.toml", async () => {
  const ca = join(dir, "facade-ca.pem");
  await writeFile(ca, "-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n");
  const configDir = join(dir, "tls");
  const result = await facadectl("setup", "containerd", "--host", "reg.example.com:20000", "--ca", ca, "--config-dir", configDir);
  assert.equal(result.code, 0, result.stderr);
  const hostDir = join(configDir, "reg.example.com:20000");
  assert.equal(result.stdout.trim(), `wrote ${join(hostDir, "hosts.toml")}`);
  assert.deepEqual(parseToml(await readFile(join(hostDir, "hosts.toml"), "utf8")), {
    server: "https://reg.example.com:20000",
    // Relative: containerd resolves it against the host directory, so it stays right wherever the directory is mounted.
    host: { "https://reg.example.com:20000": { capabilities: ["pull", "resolve"], ca: "ca.crt" } },
  });
  assert.equal(await readFile(join(hostDir, "ca.crt"), "utf8"), await readFile(ca, "utf8"));
});

test("wrong usage exits 2 and writes nothing", async () => {
  const configDir = join(dir, "wrong");
  for (const args of [[], ["--host", "no-port"], ["--host", "a:1", "--endpoint", "ftp://a"], ["--host", "a:1", "extra"]]) {
    const result = await facadectl("setup", "containerd", "--config-dir", configDir, ...args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /usage: facadectl setup containerd/);
  }
  const missingCa = await facadectl("setup", "containerd", "--host", "a:1", "--ca", join(dir, "nope.pem"), "--config-dir", configDir);
  assert.equal(missingCa.code, 1);
  await assert.rejects(readFile(join(configDir, "a:1", "hosts.toml")), { code: "ENOENT" });
});

test("containerd pulls through the registry using only the hosts.toml, over HTTP and over HTTPS with --ca", async () => {
  const containerd = await TestContainerd.start();
  try {
    const cases = [
      { name: "http", port: registry.port, args: ["--endpoint", `http://127.0.0.1:${registry.port}`] },
      { name: "https", port: tlsRegistry.port, args: ["--endpoint", `https://127.0.0.1:${tlsRegistry.port}`, "--ca", certificate] },
    ];
    for (const { name, port, args } of cases) {
      // The name in the image reference does not resolve: only the hosts.toml
      // entry leads containerd to the registry, as on a node where it runs
      // behind a hostPort and references carry the cluster-wide name.
      const host = `registry-facade.invalid:${port}`;
      const hostsDir = join(dir, `certs.d-${name}`);
      const result = await facadectl("setup", "containerd", "--host", host, ...args, "--config-dir", hostsDir);
      assert.equal(result.code, 0, result.stderr);

      const ref = `${host}/fixed/demo:latest`;
      await containerd.ctr(["images", "pull", "--hosts-dir", hostsDir, "--snapshotter", "native", ref]);
      const mountpoint = await mkdtemp(join(dir, "mnt-"));
      await containerd.ctr(["images", "mount", "--snapshotter", "native", ref, mountpoint]);
      try {
        assert.equal(await readFile(join(mountpoint, "hello.txt"), "utf8"), "through hosts.toml\n", name);
      } finally {
        await containerd.ctr(["images", "unmount", "--rm", mountpoint]);
      }
    }
  } finally {
    await containerd.stop();
  }
});
