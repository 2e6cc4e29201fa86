import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/facadectl.ts";
import { run } from "../support/oci-clients.ts";
import { canConnect, TestProcess, waitUntil } from "../support/process.ts";

/**
 * `npm start` in a fresh clone of the committed tree, stopped the way a
 * terminal's Ctrl-C does (SIGINT to the whole process group): both services
 * come up and go away, and nothing is written outside the clone. The clone
 * borrows this checkout's node_modules instead of running npm ci.
 */
let dir: string;
let clone: string;
let home: string;
let temp: string;
let npm: TestProcess;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-npm-start-"));
  clone = join(dir, "repo");
  await run("git", ["clone", "--quiet", ROOT, clone]);
  await symlink(join(ROOT, "node_modules"), join(clone, "node_modules"));
  [home, temp] = [join(dir, "home"), join(dir, "tmp")];
  await Promise.all([mkdir(home), mkdir(temp)]);
  // Embedded defaults but free ports: the defaults' fixed ports may be taken on a shared machine.
  const config = join(dir, "ports.json");
  await writeFile(config, JSON.stringify({ registry: { port: 0 }, specProvider: { port: 0 } }));
  const child = spawn("npm", ["start", "--", "--config", config], {
    cwd: clone,
    // Its own process group, as a terminal's foreground job. npm's own update
    // check and debug log are npm's business, not the services', so they are off.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HOME: home, TMPDIR: temp, npm_config_update_notifier: "false", npm_config_logs_max: "0" },
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

  process.kill(-(npm.child.pid as number), "SIGINT");
  assert.equal(await npm.exited, 0, npm.log);
  for (const port of ports) assert.equal(await canConnect(port), false, `${port} closed`);

  assert.deepEqual(await readdir(home), [], "nothing in HOME");
  assert.deepEqual(await readdir(temp), [], "nothing in TMPDIR");
  const { stdout } = await run("git", ["-C", clone, "status", "--porcelain", "--ignored"]);
  const changed = stdout.split("\n").filter((l) => l !== "" && l !== "?? node_modules");
  assert.deepEqual(changed, ["!! .data/"], "only the gitignored .data/ of the clone");
});
