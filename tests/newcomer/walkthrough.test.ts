import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/facadectl.ts";
import { image, layer } from "../support/images.ts";
import { TestContainerd } from "../support/oci-clients.ts";
import { canConnect, startProcess, waitUntil, type TestProcess } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/**
 * The newcomer's path, as written: the commands `npm start` prints and the
 * README's walk-through, run verbatim except for addresses (a local upstream
 * stands in for Docker Hub, ports are ephemeral, files and containerd's
 * certs.d go to a temporary directory).
 */
const FINISHED = "Ctrl-C stops both services.";

let dir: string;
let upstream: UpstreamRegistry;
let containerd: TestContainerd;
let facade: TestProcess;
let registryAddr: string;
let specProviderAddr: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-walkthrough-"));
  upstream = await UpstreamRegistry.start();
  // Stand-ins for the README's images: an "alpine" base, and a "busybox" whose
  // real static busybox makes `ctr run ... cat` work.
  const busybox = await readFile("/bin/busybox");
  await upstream.pushImage("library/alpine", "3.20", image({ family: "oci", layers: [await layer([{ type: "dir", path: "etc/" }, { path: "etc/alpine-release", content: "3.20.0\n" }])], env: ["PATH=/bin"] }));
  await upstream.pushImage(
    "library/busybox",
    "1.36",
    image({ family: "oci", layers: [await layer([{ type: "dir", path: "bin/" }, { path: "bin/busybox", content: busybox, mode: 0o755 }, { type: "symlink", path: "bin/cat", target: "busybox" }])] }),
  );
  containerd = await TestContainerd.start();

  // `npm start` on the embedded defaults, but on free ports and with its data here.
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ logLevel: "warn", registry: { port: 0, store: join(dir, "registry") }, specProvider: { port: 0, store: { type: "file", path: join(dir, "specs") } } }));
  facade = startProcess("npm start", process.execPath, ["--import", "tsx", "services/all-in-one/bin.ts", "--config", config], { cwd: ROOT });
  await waitUntil("npm start", async () => facade.log.includes(FINISHED), { process: facade, timeoutMs: 30_000 });
  registryAddr = /registry\s+http:\/\/(\S+)\/v2\//.exec(facade.log)?.[1] ?? "";
  specProviderAddr = /spec-provider\s+(\S+) \(gRPC\)/.exec(facade.log)?.[1] ?? "";
});

after(async () => {
  await facade?.stop();
  await containerd?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A command as the user runs it, with this test's addresses and directories. */
function localise(command: string, demoDir: string): string {
  let line = command
    .replaceAll("docker.io/library/", `${upstream.host}/library/`)
    .replaceAll("127.0.0.1:32223", registryAddr)
    .replaceAll(".data/demo", demoDir)
    .replaceAll("/etc/containerd/certs.d", join(dir, "certs.d"))
    .replace(/^(sudo )?ctr /, `ctr --address ${containerd.socket} --namespace walkthrough `);
  // The README's facadectl talks to the default address; this spec-provider is elsewhere.
  if (!line.includes("--addr")) line = line.replace(/\bfacadectl (put|get|delete) /, `facadectl $1 --addr ${specProviderAddr} `);
  return line;
}

/** Runs one command line with bash from the repository root; fails with its output. */
function sh(line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Offline: a facadectl npx could not find here must fail, not be fetched from the registry.
    execFile("bash", ["-euo", "pipefail", "-c", line], { cwd: ROOT, env: { ...process.env, npm_config_offline: "true" }, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${line}\nfailed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

async function readmeWalkthrough(): Promise<string[]> {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("## Walk-through");
  assert.ok(start >= 0, "README has a walk-through");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  return blocks.flatMap((b) => b.split("\n")).filter((l) => l.trim() !== "" && !l.startsWith("#"));
}

const layersOf = (inspect: string) => (JSON.parse(inspect) as { Layers: string[] }).Layers;

test("the commands npm start prints work as printed", async () => {
  const printed = facade.log
    .slice(facade.log.indexOf("Try it"), facade.log.indexOf(FINISHED))
    .split("\n")
    .filter((l) => l.startsWith("  "))
    .map((l) => l.trim());
  assert.deepEqual(printed.map((l) => l.split(" ").slice(0, 2).join(" ")), ["npx facadectl", "skopeo inspect", "skopeo copy", "sudo ctr"]);
  const demoDir = join(dir, "printed");
  const outputs = [];
  for (const line of printed) outputs.push(await sh(localise(line, demoDir)));
  assert.equal(layersOf(outputs[1] ?? "").length, 2, "alpine's layer and busybox's");
});

test("the README walk-through produces the image it describes", async () => {
  const commands = await readmeWalkthrough();
  assert.equal(commands[0], "npm start", "it starts with npm start (running above)");
  const outputs: Array<[string, string]> = [];
  for (const command of commands.slice(1)) outputs.push([command, await sh(localise(command, join(dir, "demo")))]);
  const outputOf = (prefix: string) => outputs.find(([command]) => command.startsWith(prefix))?.[1];

  assert.match(outputOf("npx facadectl put") ?? "", /^image\s+127\.0\.0\.1:32223\/remote\/demo:latest$/m, "put names the image to pull");
  assert.equal(layersOf(outputOf("skopeo inspect") ?? "").length, 3, "alpine, busybox, the content layer");
  assert.equal(outputOf("cat "), "hello from the workspace\n", "umoci's rootfs has the content");
  assert.equal(outputOf("ctr run"), "hello from the workspace\n", "containerd runs the composed image");

  // "npx facadectl delete demo makes it a 404"
  await sh(localise("npx facadectl delete demo", join(dir, "demo")));
  const gone = await fetch(`http://${registryAddr}/v2/remote/demo/manifests/latest`);
  assert.equal(gone.status, 404);
  assert.equal(((await gone.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, "MANIFEST_UNKNOWN");
});

test("Ctrl-C stops both services", async () => {
  facade.child.kill("SIGINT");
  assert.equal(await facade.exited, 0, facade.log);
  for (const addr of [registryAddr, specProviderAddr]) {
    const refused = !(await canConnect(Number(addr.slice(addr.lastIndexOf(":") + 1))));
    assert.ok(refused, `${addr} no longer listens`);
  }
});
