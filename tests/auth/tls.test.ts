import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates } from "../support/certificates.ts";
import { image, layer, type BuiltImage } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { readLayout, run } from "../support/oci-clients.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { eventually, startFacade } from "./fixture.ts";

/** registry.tls: HTTPS that skopeo verifies against the test CA, and certificates rotated under a running registry. */
const logs = new LogCapture();
let dir: string;
let upstream: UpstreamRegistry;
let base: BuiltImage;
let facade: Awaited<ReturnType<typeof startFacade>>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-https-"));
  await makeCertificates(dir, { servers: ["first", "rotated"] });
  // skopeo's --src-cert-dir: every *.crt in it is a CA to trust.
  await mkdir(join(dir, "trust"));
  await copyFile(join(dir, "ca.crt"), join(dir, "trust", "ca.crt"));
  await copyFile(join(dir, "first.crt"), join(dir, "serve.crt"));
  await copyFile(join(dir, "first.key"), join(dir, "serve.key"));
  upstream = await UpstreamRegistry.start();
  base = image({ family: "oci", layers: [await layer([{ path: "tls.txt", content: "over https\n" }])] });
  const specs = join(dir, "specs.json");
  await writeFile(specs, JSON.stringify({ dev: { baseRef: await upstream.pushImage("base/tls", "1", base) } }));
  facade = await startFacade({ registry: { store: join(dir, "store"), fixedSpecFN: specs, tls: { crt: join(dir, "serve.crt"), key: join(dir, "serve.key") } } }, logs.logger("registry"));
});

after(async () => {
  await facade?.registry.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The SHA-256 fingerprint of the certificate the registry serves to a new connection. */
async function servedFingerprint(): Promise<string> {
  const ca = await readFile(join(dir, "ca.crt"));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: facade.registry.port, ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.once("error", reject);
  });
}

const fingerprintOf = async (name: string) => new X509Certificate(await readFile(join(dir, `${name}.crt`))).fingerprint256;

async function pull(): Promise<void> {
  const layout = await mkdtemp(join(dir, "oci-"));
  await run("skopeo", ["copy", "--src-cert-dir", join(dir, "trust"), `docker://${facade.host}/fixed/dev:latest`, `oci:${layout}:tag`]);
  const { manifest } = await readLayout(layout);
  assert.equal(manifest.layers[0]?.digest, base.layers[0]!.digest);
}

test("skopeo pulls over HTTPS, verifying the registry's certificate against the test CA; without the CA it refuses", async () => {
  await pull();
  await assert.rejects(run("skopeo", ["inspect", `docker://${facade.host}/fixed/dev:latest`]), /certificate|x509/i);
});

test("a rotated certificate is served without a restart; a half-rotated pair (new certificate, old key) is refused and the old one kept", async () => {
  assert.equal(await servedFingerprint(), await fingerprintOf("first"));
  await copyFile(join(dir, "rotated.crt"), join(dir, "serve.crt"));
  await eventually("the mismatched pair refused", async () => assert.ok(logs.lines.some((l) => l.includes("registry.tls") && l.includes("reload failed"))));
  assert.equal(await servedFingerprint(), await fingerprintOf("first"));
  await copyFile(join(dir, "rotated.key"), join(dir, "serve.key"));
  await eventually("the rotated certificate served", async () => assert.equal(await servedFingerprint(), await fingerprintOf("rotated")));
  await pull();
});

test("no private key appears in any log line of this file", async () => {
  const keyBody = (await readFile(join(dir, "rotated.key"), "utf8")).split("\n")[1] ?? "";
  logs.assertNoSecrets([keyBody]);
});
