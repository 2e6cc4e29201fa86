/**
 * Every service of docker-compose.yml as a local process, for machines
 * without Docker: nats-server, docker-registry, the spec-provider, both
 * registry replicas, prometheus when it is installed, and for the collector
 * (none in Debian) a sink writing the spans it receives to its log. Configuration is
 * derived from the files compose mounts (host names become 127.0.0.1, ports
 * are moved so nothing collides), so the two ways cannot drift apart.
 *
 *   npm run dev-cluster [-- --dir DIR] [-- --ephemeral-ports]
 *
 * Data, generated configs and one log per service go to DIR (default
 * .data/dev-cluster); DIR/cluster.json lists addresses and process ids once
 * everything is ready. Ctrl-C (or SIGTERM) stops every process it started.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
// The tests' process helpers: start with output kept, wait until ready, stop with a grace period.
import { freePort, startProcess, waitUntil, type TestProcess } from "../tests/support/process.ts";
import { AddressTable } from "./dev-cluster/addresses.ts";
import { loadCompose } from "./dev-cluster/compose.ts";
import { launchFor } from "./dev-cluster/launchers.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({ options: { dir: { type: "string", default: join(root, ".data/dev-cluster") }, "ephemeral-ports": { type: "boolean", default: false } }, strict: true });
const dataDir = resolve(values.dir);
const logDir = join(dataDir, "logs");
await mkdir(logDir, { recursive: true });

const services = await loadCompose(root);
const table = await AddressTable.allocate(services, values["ephemeral-ports"] ? "ephemeral" : "published", freePort);
const running: Array<{ name: string; process: TestProcess; address: string; log: string }> = [];
const notes: string[] = [];
let stopping = false;

async function stopAll(): Promise<void> {
  stopping = true;
  // Reverse order: the registries before the spec-provider before NATS.
  for (const { process } of [...running].reverse()) await process.stop(10_000);
  await rm(join(dataDir, "cluster.json"), { force: true });
}

// Handled from the start: a stop during start-up must not orphan what already runs.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    stopAll().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`dev-cluster: unclean stop: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}

try {
  // Compose's file order is a valid start order: each service after what it depends on.
  for (const service of services.values()) {
    const launch = await launchFor(service, { root, dataDir, table });
    if (stopping) break;
    if (typeof launch === "string") {
      notes.push(`${service.name}: not started: ${launch}`);
      continue;
    }
    const log = join(logDir, `${service.name}.log`);
    const child = startProcess(service.name, launch.command, launch.args, { env: launch.env, cwd: root });
    const file = createWriteStream(log);
    child.child.stdout?.pipe(file);
    child.child.stderr?.pipe(file);
    running.push({ name: service.name, process: child, address: launch.address, log });
    child.exited.then((code) => {
      if (!stopping) process.stderr.write(`dev-cluster: ${service.name} exited (${code}); see ${log}\n`);
    });
    await waitUntil(service.name, launch.ready, { process: child, timeoutMs: 30_000 });
  }
} catch (err) {
  process.stderr.write(`dev-cluster: ${(err as Error).message}\n`);
  await stopAll();
  process.exit(1);
}

await writeFile(
  join(dataDir, "cluster.json"),
  `${JSON.stringify({ processes: running.map((r) => ({ name: r.name, pid: r.process.child.pid, address: r.address, log: r.log })), addresses: table.entries() }, null, 2)}\n`,
);
const width = Math.max(...running.map((r) => r.name.length));
process.stdout.write(
  [
    "dev-cluster is running (Ctrl-C stops it)",
    ...running.map((r) => `  ${r.name.padEnd(width + 2)}${r.address}`),
    ...notes.map((n) => `  ${n}`),
    `  logs and data in ${dataDir}`,
    "",
  ].join("\n"),
);
