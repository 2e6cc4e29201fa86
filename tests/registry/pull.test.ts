import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readlink, access } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { readLayout, skopeoCopy, umociUnpack } from "../support/oci-clients.ts";
import { BASE_ENV, HEALTHCHECK, createWorld, startFacade, type Facade, type World } from "./fixture.ts";

/** Real clients end to end: skopeo pulls a composed image, umoci unpacks it. */
let world: World;
let facade: Facade;
before(async () => {
  world = await createWorld();
  facade = await startFacade(world);
});
after(async () => {
  await facade?.stop();
  await world?.dispose();
});

const exists = (path: string) => access(path).then(() => true, () => false);

/**
 * The manifest and config as the registry serves them. skopeo converts a
 * Docker image to OCI when it writes an OCI layout (dropping annotations and
 * config fields), so the documents themselves are read over HTTP.
 */
async function served(host: string, name: string): Promise<{ manifest: any; config: any; mediaType: string | null }> {
  const res = await fetch(`http://${host}/v2/fixed/${name}/manifests/latest`);
  assert.equal(res.status, 200);
  const manifest = JSON.parse(await res.text());
  const configRes = await fetch(`http://${host}/v2/fixed/${name}/blobs/${manifest.config.digest}`);
  assert.equal(configRes.status, 200);
  return { manifest, config: JSON.parse(await configRes.text()), mediaType: res.headers.get("content-type") };
}

for (const [name, family] of [["oci", "oci"], ["docker", "docker"]] as const) {
  describe(`fixed/${name}: a ${family} base with every kind of added layer`, () => {
    let layout: string;
    let rootfs: string;
    before(async () => {
      layout = await skopeoCopy(`${facade.host}/fixed/${name}:latest`, { parent: world.dir });
      rootfs = await umociUnpack(layout);
    });

    test("every layer kind's files are in the unpacked root file system", async () => {
      const files: Array<[string, string]> = [
        ["etc/base.txt", "base layer 1\n"],
        ["opt/data/kept.txt", "kept\n"],
        ["etc/base3.txt", "base layer 3, uncompressed\n"],
        ["static/from-image.txt", "static image\n"],
        ["static/from-file.txt", "static file\n"],
        ["ide/code", "ide binary\n"],
        [".supervisor/supervisor", "supervisor\n"],
        ["ide/plugin.txt", "plugin\n"],
        ["workspace/remote.txt", "remote content\n"],
        ["workspace/direct.txt", "direct content\n"],
      ];
      for (const [path, content] of files) assert.equal(await readFile(join(rootfs, path), "utf8"), content, path);
      assert.equal(await readlink(join(rootfs, "usr/bin/hello")), "/bin/hello", "symlink kept");
      assert.equal(await exists(join(rootfs, "opt/data/removed.txt")), false, "whiteout applied");
      assert.equal(await exists(join(rootfs, "skipped-by-label.txt")), false, "skip-n label skipped the supervisor's first layer");
    });

    test("the manifest is of the base's family, with annotations", async () => {
      const { manifest, config, mediaType } = await served(facade.host, name);
      const types = family === "oci"
        ? ["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json", /^application\/vnd\.oci\.image\.layer\.v1\.tar(\+gzip)?$/]
        : ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.container.image.v1+json", /^application\/vnd\.docker\.image\.rootfs\.diff\.tar(\.gzip)?$/];
      assert.equal(mediaType, types[0]);
      assert.equal(manifest.mediaType, types[0]);
      assert.equal(manifest.config.mediaType, types[1]);
      for (const l of manifest.layers) assert.match(l.mediaType, types[2] as RegExp);
      // skopeo pulled the layers the registry lists (it gzips uncompressed ones on the way).
      const pulled = (await readLayout(layout)).manifest.layers;
      assert.equal(pulled.length, manifest.layers.length);
      manifest.layers.forEach((l: { digest: string; mediaType: string }, i: number) => {
        if (/gzip$/.test(l.mediaType)) assert.equal(pulled[i]?.digest, l.digest);
      });
      const base = family === "oci" ? world.images["baseOci"] : world.images["baseDocker"];
      // 3 base + 1 static image + 1 static file + ide + supervisor (1 of 2) + ide layer + remote + direct
      assert.equal(manifest.layers.length, 10);
      assert.equal(manifest.annotations?.["org.opencontainers.image.base.name"], world.refs[name === "oci" ? "baseOci" : "baseDocker"]);
      assert.equal(manifest.annotations?.["org.opencontainers.image.base.digest"], base?.manifestDigest);
      assert.equal(manifest.annotations?.["io.gitpod.workspace-image.ref"], world.refs[name === "oci" ? "baseOci" : "baseDocker"]);
      assert.equal(manifest.annotations?.["io.gitpod.workspace-image.size"], String(base?.layers.reduce((n, l) => n + l.size, 0)));
      assert.deepEqual(manifest.layers.at(-2)?.digest, world.remoteLayer.digest);
      assert.equal(manifest.layers.at(-1)?.mediaType, family === "oci" ? "application/vnd.oci.image.layer.v1.tar" : "application/vnd.docker.image.rootfs.diff.tar");
      assert.equal(config["rootfs"].diff_ids.length, manifest.layers.length);
      const described = (config["history"] as Array<{ empty_layer?: boolean }>).filter((h) => !h.empty_layer);
      assert.equal(described.length, config["rootfs"].diff_ids.length, "history consistent with diff_ids");
    });

    test("the config keeps the base's fields and applies the env rules", async () => {
      const { config } = await served(facade.host, name);
      const env = config["config"].Env as string[];
      assert.deepEqual(env, [
        "PATH=/ide/bin:/usr/local/bin:/usr/bin:/bin:/.supervisor",
        "FOO=base",
        "IDE=code",
        "NEWVAR=new",
        "ALSONEW=appended",
      ]);
      assert.ok(!env.some((e) => e.startsWith("IGNORED=") || e.startsWith("GITPOD_ENV_")), "other add-on env entries are ignored");
      assert.deepEqual(config["config"].Healthcheck, HEALTHCHECK);
      assert.deepEqual(config["config"].Shell, ["/bin/sh", "-c"]);
      assert.deepEqual(config["config"].OnBuild, ["RUN true"]);
      assert.deepEqual(config["container_config"], { Hostname: "builder", Cmd: ["/bin/sh"] });
      assert.equal(config["author"], "tests");
      assert.deepEqual(config["rootfs"].diff_ids.slice(-1), [`sha256:${createHash("sha256").update(world.directTar).digest("hex")}`]);
    });
  });
}

test("a base without history gets history entries for every layer", async () => {
  const { config } = await readLayout(await skopeoCopy(`${facade.host}/fixed/nohistory:latest`, { parent: world.dir }));
  assert.equal(config["history"].length, config["rootfs"].diff_ids.length);
  assert.deepEqual(config["config"].Env, [...BASE_ENV.map((e) => (e.startsWith("PATH=") ? e.replace("PATH=", "PATH=/ide/bin:") : e)), "IDE=code"]);
});

test("the platform is chosen from an OCI index and a Docker manifest list", async () => {
  for (const [name, content] of [["multi", "amd64\n"], ["multidocker", "amd64 docker\n"]] as const) {
    const rootfs = await umociUnpack(await skopeoCopy(`${facade.host}/fixed/${name}:latest`, { parent: world.dir }));
    assert.equal(await readFile(join(rootfs, "arch.txt"), "utf8"), content, name);
  }
  const arm = await startFacade(world, { platform: { os: "linux", architecture: "arm64", variant: "v8" } }, { withStatic: false });
  try {
    for (const [name, content] of [["multi", "arm64\n"], ["multidocker", "arm64 docker\n"], ["armonly", "arm64\n"]] as const) {
      const layout = await skopeoCopy(`${arm.host}/fixed/${name}:latest`, { parent: world.dir });
      assert.equal(await readFile(join(await umociUnpack(layout), "arch.txt"), "utf8"), content, name);
      const { manifest } = await served(arm.host, name);
      assert.equal(manifest.annotations?.["org.opencontainers.image.base.digest"], world.images[name === "multidocker" ? "arm64Docker" : "arm64"]?.manifestDigest as string);
    }
  } finally {
    await arm.stop();
  }
});
