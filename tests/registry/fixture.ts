import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { EventBus } from "../../services/shared/events/events.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { startRegistry, type RunningRegistry } from "../../services/registry/src/index.ts";
import { ContentServer } from "../support/content-server.ts";
import { image, index, layer, sha256, tarOf, type BuiltImage, type Layer } from "../support/images.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/**
 * The world the registry tests pull from: a real docker-registry seeded with
 * images built here, a content server for remote layers, a static file layer
 * and a fixed spec file naming the compositions.
 */
export interface World {
  upstream: UpstreamRegistry;
  content: ContentServer;
  dir: string;
  specFile: string;
  staticFile: string;
  refs: Record<string, string>;
  images: Record<string, BuiltImage>;
  remoteLayer: Layer;
  directTar: Buffer;
  /** Every spec of the fixed file, by name. */
  specs: Record<string, Record<string, unknown>>;
  dispose(): Promise<void>;
}

export const BASE_ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "FOO=base"];
export const HEALTHCHECK = { Test: ["CMD", "true"], Interval: 30_000_000_000 };

export async function createWorld(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), "facade-world-"));
  const upstream = await UpstreamRegistry.start();
  const content = await ContentServer.start();

  // Base: several layers, a symlink, a whiteout that removes a file of an earlier layer.
  const baseLayers = [
    await layer([
      { type: "dir", path: "etc/" },
      { path: "etc/base.txt", content: "base layer 1\n" },
      { type: "dir", path: "bin/" },
      { path: "bin/hello", content: "#!/bin/sh\necho hello\n", mode: 0o755 },
      { type: "dir", path: "opt/" },
      { type: "dir", path: "opt/data/" },
      { path: "opt/data/removed.txt", content: "to be removed\n" },
      { path: "opt/data/kept.txt", content: "kept\n" },
    ]),
    await layer([
      { type: "dir", path: "usr/" },
      { type: "dir", path: "usr/bin/" },
      { type: "symlink", path: "usr/bin/hello", target: "/bin/hello" },
      { type: "dir", path: "opt/data/" },
      { path: "opt/data/.wh.removed.txt", content: "" },
    ]),
    await layer([{ path: "etc/base3.txt", content: "base layer 3, uncompressed\n" }], { gzip: false }),
  ];
  const baseOptions = {
    layers: baseLayers,
    env: BASE_ENV,
    history: "with-empty" as const,
    extraRunConfig: { Healthcheck: HEALTHCHECK, Shell: ["/bin/sh", "-c"], OnBuild: ["RUN true"] },
    extraConfig: { container_config: { Hostname: "builder", Cmd: ["/bin/sh"] }, author: "tests" },
  };
  const images: Record<string, BuiltImage> = {
    baseOci: image({ family: "oci", ...baseOptions }),
    baseDocker: image({ family: "docker", ...baseOptions }),
    baseNoHistory: image({ family: "oci", layers: baseLayers, env: BASE_ENV, history: "none", omitMediaType: true }),
    ide: image({
      family: "oci",
      layers: [await layer([{ type: "dir", path: "ide/" }, { path: "ide/code", content: "ide binary\n" }])],
      env: ["GITPOD_ENV_SET_IDE=code", "GITPOD_ENV_APPEND_PATH=/ide/bin:", "IGNORED=from-ide"],
    }),
    supervisor: image({
      family: "docker",
      layers: [await layer([{ path: "skipped-by-label.txt", content: "skipped\n" }]), await layer([{ type: "dir", path: ".supervisor/" }, { path: ".supervisor/supervisor", content: "supervisor\n" }])],
      labels: { "skip-n.registry-facade.gitpod.io": "1" },
      env: ["GITPOD_ENV_PREPEND_PATH=:/.supervisor", "GITPOD_ENV_SET_NEWVAR=new", "GITPOD_ENV_APPEND_ALSONEW=appended"],
    }),
    ideLayer: image({ family: "oci", layers: [await layer([{ type: "dir", path: "ide/" }, { path: "ide/plugin.txt", content: "plugin\n" }])] }),
    staticImage: image({ family: "docker", layers: [await layer([{ type: "dir", path: "static/" }, { path: "static/from-image.txt", content: "static image\n" }])] }),
    badLabel: image({ family: "oci", layers: [await layer([{ path: "x.txt", content: "x\n" }])], labels: { "skip-n.registry-facade.gitpod.io": "one" } }),
    amd64: image({ family: "oci", layers: [await layer([{ path: "arch.txt", content: "amd64\n" }])], env: BASE_ENV }),
    arm64: image({ family: "oci", layers: [await layer([{ path: "arch.txt", content: "arm64\n" }])], env: BASE_ENV, platform: { os: "linux", architecture: "arm64", variant: "v8" } }),
    amd64Docker: image({ family: "docker", layers: [await layer([{ path: "arch.txt", content: "amd64 docker\n" }])], env: BASE_ENV }),
    arm64Docker: image({ family: "docker", layers: [await layer([{ path: "arch.txt", content: "arm64 docker\n" }])], env: BASE_ENV, platform: { os: "linux", architecture: "arm64", variant: "v8" } }),
  };
  const refs: Record<string, string> = {};
  const push = async (key: string, repo: string) => {
    refs[key] = await upstream.pushImage(repo, "1", images[key] as BuiltImage);
  };
  await push("baseOci", "base/oci");
  await push("baseDocker", "base/docker");
  await push("baseNoHistory", "base/nohistory");
  await push("ide", "ide/code");
  await push("supervisor", "supervisor");
  await push("ideLayer", "ide/layer");
  await push("staticImage", "static/tools");
  await push("badLabel", "bad/label");
  refs["multiOci"] = await upstream.pushIndex("base/multi", "1", index("oci", [images["amd64"] as BuiltImage, images["arm64"] as BuiltImage]));
  refs["multiDocker"] = await upstream.pushIndex("base/multi-docker", "1", index("docker", [images["amd64Docker"] as BuiltImage, images["arm64Docker"] as BuiltImage]));
  refs["armOnly"] = await upstream.pushIndex("base/arm-only", "1", index("oci", [images["arm64"] as BuiltImage]));

  // A static layer from a file, and the two kinds of content layer.
  const staticFile = join(dir, "static.tar.gz");
  await writeFile(staticFile, gzipSync(await tarOf([{ type: "dir", path: "static/" }, { path: "static/from-file.txt", content: "static file\n" }])));
  const remoteLayer = await layer([{ type: "dir", path: "workspace/" }, { path: "workspace/remote.txt", content: "remote content\n" }]);
  const remoteUrl = content.put("/layers/remote.tar.gz", remoteLayer.blob);
  const directTar = await tarOf([{ type: "dir", path: "workspace/" }, { path: "workspace/direct.txt", content: "direct content\n" }]);

  const addOns = {
    ideRef: refs["ide"],
    supervisorRef: refs["supervisor"],
    ideLayerRef: [refs["ideLayer"]],
    contentLayer: [
      { remote: { url: remoteUrl, digest: remoteLayer.digest, diffId: remoteLayer.diffId, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: String(remoteLayer.size) } },
      { direct: { content: directTar.toString("base64") } },
    ],
  };
  const specs: Record<string, Record<string, unknown>> = {
    oci: { baseRef: refs["baseOci"], ...addOns },
    docker: { baseRef: refs["baseDocker"], ...addOns },
    nohistory: { baseRef: refs["baseNoHistory"], ideRef: refs["ide"] },
    plain: { baseRef: refs["baseOci"] },
    multi: { baseRef: refs["multiOci"] },
    multidocker: { baseRef: refs["multiDocker"] },
    armonly: { baseRef: refs["armOnly"] },
    badlabel: { baseRef: refs["baseOci"], ideRef: refs["badLabel"] },
    missingbase: { baseRef: `${upstream.host}/does/not-exist:1` },
    badref: { baseRef: "Not A Reference" },
    zstd: {
      baseRef: refs["baseDocker"],
      contentLayer: [{ remote: { url: remoteUrl, digest: sha256("zstd"), diffId: sha256("zstd-tar"), mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", size: "4" } }],
    },
  };
  const specFile = join(dir, "specs.json");
  await writeFile(specFile, JSON.stringify(specs));

  return {
    upstream,
    content,
    dir,
    specFile,
    staticFile,
    refs,
    images,
    remoteLayer,
    directTar,
    specs,
    async dispose() {
      await upstream.dispose();
      await content.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Facade {
  registry: RunningRegistry;
  /** host:port for image references. */
  host: string;
  url: string;
  store: string;
  stop(): Promise<void>;
}

/** The registry under test, in this process, on an ephemeral port with a fresh store. */
export async function startFacade(world: World, registry: Record<string, unknown> = {}, options: { withStatic?: boolean; store?: string; eventBus?: EventBus } = {}): Promise<Facade> {
  const store = options.store ?? (await mkdtemp(join(world.dir, "store-")));
  const staticLayer = options.withStatic === false ? [] : [{ ref: world.refs["staticImage"], type: "image" }, { ref: world.staticFile, type: "file" }];
  const config = parseConfig({ logLevel: "silent", registry: { port: 0, store, fixedSpecFN: world.specFile, staticLayer, ...registry } });
  const running = await startRegistry(config, createLogger({ level: "silent", service: "registry-test" }), { eventBus: options.eventBus });
  const host = `127.0.0.1:${running.port}`;
  const prefix = (registry["prefix"] as string | undefined) ?? "";
  return { registry: running, host, url: `http://${host}${prefix}`, store, stop: () => running.stop() };
}
