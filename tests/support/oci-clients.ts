import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { canConnect, freePort, startProcess, waitUntil, type TestProcess } from "./process.ts";

const exec = promisify(execFile);

/** Runs a command; on failure the error carries its stderr. */
export async function run(command: string, args: string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${e.message}\n${e.stderr ?? ""}`);
  }
}

/** skopeo copy docker://HOST/NAME:TAG oci:DIR:tag; returns the layout directory. */
export async function skopeoCopy(source: string, options: { parent?: string; extraArgs?: string[] } = {}): Promise<string> {
  const dir = await mkdtemp(join(options.parent ?? tmpdir(), "oci-"));
  await run("skopeo", ["copy", "--src-tls-verify=false", ...(options.extraArgs ?? []), `docker://${source}`, `oci:${dir}:tag`]);
  return dir;
}

/** umoci unpack of oci:DIR:tag into DIR-bundle; returns the bundle's rootfs directory. */
export async function umociUnpack(layoutDir: string): Promise<string> {
  const bundle = `${layoutDir}-bundle`;
  await run("umoci", ["unpack", "--image", `${layoutDir}:tag`, bundle]);
  return join(bundle, "rootfs");
}

/** The manifest and config an OCI layout holds under tag "tag" (after skopeo copy). */
export async function readLayout(layoutDir: string): Promise<{ manifest: OciManifest; config: Record<string, any>; manifestDigest: string }> {
  const index = JSON.parse(await readFile(join(layoutDir, "index.json"), "utf8")) as { manifests: Array<{ digest: string }> };
  const manifestDigest = index.manifests[0]?.digest ?? "";
  const blob = (digest: string) => readFile(join(layoutDir, "blobs", "sha256", digest.slice(7)), "utf8");
  const manifest = JSON.parse(await blob(manifestDigest)) as OciManifest;
  const config = JSON.parse(await blob(manifest.config.digest)) as Record<string, any>;
  return { manifest, config, manifestDigest };
}

export interface OciManifest {
  mediaType?: string;
  config: { mediaType: string; digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number }>;
  annotations?: Record<string, string>;
}

/** A containerd of its own (root, state, socket in a temp dir), for `ctr` pulls. */
export class TestContainerd {
  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly process: TestProcess,
  ) {}

  static async start(): Promise<TestContainerd> {
    const dir = await mkdtemp(join(tmpdir(), "facade-containerd-"));
    const socket = join(dir, "containerd.sock");
    const config = join(dir, "config.toml");
    await writeFile(
      config,
      [
        "version = 2",
        `root = "${join(dir, "root")}"`,
        `state = "${join(dir, "state")}"`,
        "[grpc]",
        `  address = "${socket}"`,
        "[ttrpc]",
        `  address = "${socket}.ttrpc"`,
        "[debug]",
        `  address = "${socket}.debug"`,
        "[metrics]",
        `  address = "127.0.0.1:${await freePort()}"`,
        "[plugins]",
        '  [plugins."io.containerd.grpc.v1.cri"]',
        "    disable_tcp_service = true",
      ].join("\n"),
    );
    const process = startProcess("containerd", "containerd", ["--config", config]);
    const containerd = new TestContainerd(dir, socket, process);
    await waitUntil("containerd socket", () => canConnect(socket), { process, timeoutMs: 30_000 });
    return containerd;
  }

  ctr(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run("ctr", ["--address", this.socket, "--namespace", "facade-test", ...args]);
  }

  /** Stops containerd and removes its root, state and socket directory. */
  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
