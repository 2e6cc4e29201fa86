import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/facadectl.ts";
import { run } from "../support/oci-clients.ts";
import { canConnect, TestProcess, waitUntil } from "../support/process.ts";

/**
 * `npm start` in a fresh copy of this checkout (what `git clone` would give,
 * plus uncommitted work), stopped the way a terminal's Ctrl-C does (SIGINT
 * to the whole process group): both services come up and go away, and
 * nothing is written outside the copy's .data/. The copy borrows this
 * checkout's node_modules (from its parent directory) instead of running npm ci.
 */
let dir: string;
let clone: string;
let home: string;
let temp: string;
let npm: TestProcess;
let original: Set<string>;

const filesIn = async (root: string) => new Set(await readdir(root, { recursive: true }));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-npm-start-"));
  clone = join(dir, "repo");
  // Tracked and untracked files, without ignored ones (.data/, node_modules/, dist/).
  const { stdout } = await run("git", ["-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  for (const file of stdout.split("\0").filter(Boolean)) {
    await cp(join(ROOT, file), join(clone, file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err; // deleted in the working tree
    });
  }
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  original = await filesIn(clone);
  [home, temp] = [join(dir, "home"), join(dir, "tmp")];
  await Promise.all([mkdir(home), mkdir(temp)]);
  // Embedded defaults but free ports: the defaults' fixed ports may be taken on a shared machine.
  const config = join(dir, "ports.json");
  await writeFile(config, JSON.stringify({ registry: { port: 0 }, specProvider: { port: 0 } }));
  const child = spawn("npm", ["start", "--", "--config", config], {
    cwd: clone,
    // Its own process group, as a terminal's foreground job. npm's own cache
    // directory, update check and debug log are npm's business, not the
    // services': they are moved or off.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOME: home, TMPDIR: temp, npm_config_cache: join(dir, "npm-cache"), npm_config_update_notifier: "false", npm_config_logs_max: "0" },
  });
  npm = new TestProcess("npm start", child);
  await waitUntil("npm start", async () => npm.log.includes("Ctrl-C stops both services."), { process: npm, timeoutMs: 30_000 });
});

after(async () => {
  if (npm?.running && npm.child.pid !== undefined) process.kill(-npm.child.pid, "SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

test("Ctrl-C stops both services, and nothing was written outside the clone", async () => {
  const ports = [/registry\s+http:\/\/[\d.]+:(\d+)\//, /spec-provider\s+[\d.]+:(\d+) /].map((re) => Number(re.exec(npm.log)?.[1]));
  for (const port of ports) assert.ok(await canConnect(port), `listening on ${port}`);

  const group = -(npm.child.pid as number);
  process.kill(group, "SIGINT");
  await npm.exited; // npm itself dies of the SIGINT, as in a terminal
  const gone = async () => {
    try {
      process.kill(group, 0);
      return false;
    } catch {
      return true;
    }
  };
  await waitUntil("every process of the group to exit", gone, { timeoutMs: 15_000 });
  assert.match(npm.log, /"msg":"registry stopped"/);
  assert.match(npm.log, /"msg":"spec-provider stopped"/);
  for (const port of ports) assert.equal(await canConnect(port), false, `${port} closed`);

  assert.deepEqual(await readdir(home), [], "nothing in HOME");
  assert.deepEqual(await readdir(temp), [], "nothing in TMPDIR");
  const written = [...(await filesIn(clone))].filter((f) => !original.has(f));
  assert.ok(written.length > 0 && written.every((f) => f === ".data" || f.startsWith(".data/")), `only .data/ in the copy: ${written.join(", ")}`);
});
