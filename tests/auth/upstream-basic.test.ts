import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer, type BuiltImage } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { readLayout, run } from "../support/oci-clients.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { eventually, startFacade } from "./fixture.ts";

/** The distribution registry with htpasswd (Basic) auth as the upstream of private images. */
const PASSWORD = "basic-upstream-password-1729";
const logs = new LogCapture();
let dir: string;
let upstream: UpstreamRegistry;
let base: BuiltImage;
let supervisor: BuiltImage;
let specs: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-basic-"));
  upstream = await UpstreamRegistry.start({ basic: { user: "puller", password: PASSWORD } });
  base = image({ family: "docker", layers: [await layer([{ path: "base.txt", content: "private docker base\n" }])] });
  supervisor = image({ family: "oci", layers: [await layer([{ type: "dir", path: ".supervisor/" }, { path: ".supervisor/bin", content: "private supervisor\n" }])] });
  specs = join(dir, "specs.json");
  await writeFile(
    specs,
    JSON.stringify({
      private: { baseRef: await upstream.pushImage("private/base", "1", base), supervisorRef: await upstream.pushImage("private/supervisor", "1", supervisor) },
    }),
  );
});

after(async () => {
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** username/password under the host written as Docker writes it, with a scheme. */
const dockerConfig = (password: string) => JSON.stringify({ auths: { [`http://${upstream.host}`]: { username: "puller", password } } });

test("skopeo pulls an image composed of a private base and a private add-on from a Basic-auth upstream", async () => {
  await writeFile(join(dir, "config.json"), dockerConfig(PASSWORD));
  const facade = await startFacade({ dockerAuth: join(dir, "config.json"), registry: { store: join(dir, "store-1"), fixedSpecFN: specs } }, logs.logger("registry"));
  try {
    const layout = await mkdtemp(join(dir, "oci-"));
    await run("skopeo", ["copy", "--src-tls-verify=false", `docker://${facade.host}/fixed/private:latest`, `oci:${layout}:tag`]);
    const { manifest } = await readLayout(layout);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      [...base.layers, ...supervisor.layers].map((l) => l.digest),
    );
  } finally {
    await facade.registry.stop();
  }
});

test("a changed password in dockerAuth takes effect without a restart", async () => {
  await writeFile(join(dir, "config.json"), dockerConfig("an-old-password-42"));
  const facade = await startFacade({ dockerAuth: join(dir, "config.json"), registry: { store: join(dir, "store-2"), fixedSpecFN: specs } }, logs.logger("registry"));
  try {
    const refused = await fetch(`${facade.url}/v2/fixed/private/manifests/latest`);
    assert.equal(refused.status, 404);
    const body = (await refused.json()) as { errors: Array<{ code: string; message: string }> };
    assert.equal(body.errors[0]?.code, "MANIFEST_UNKNOWN");
    assert.match(body.errors[0]?.message ?? "", /denied access with the configured credentials/);
    await writeFile(join(dir, "config.json"), dockerConfig(PASSWORD));
    await eventually("the new password in use", async () => assert.equal((await fetch(`${facade.url}/v2/fixed/private/manifests/latest`)).status, 200));
  } finally {
    await facade.registry.stop();
  }
});

test("no password appears in any log line of this file", () => {
  logs.assertNoSecrets([PASSWORD, "an-old-password-42", Buffer.from(`puller:${PASSWORD}`).toString("base64")]);
});
