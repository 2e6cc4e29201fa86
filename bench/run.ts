import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { run } from "../tests/support/oci-clients.ts";
import { runBench, type BenchOptions, type Workload } from "./bench.ts";
import { render, rows, unmetWorkloads } from "./report.ts";

/**
 * `npm run bench [-- options]`: measures registry-facade against the
 * distribution registry and writes the report (BENCHMARKS.md by default).
 * Small sizes make a smoke run: --layer-mib 1 --seconds 1 --cold-runs 1.
 */
const { values } = parseArgs({
  options: {
    "layer-mib": { type: "string", default: "512" },
    seconds: { type: "string", default: "10" },
    "cold-runs": { type: "string", default: "3" },
    "memory-clients": { type: "string", default: "20" },
    "single-flight-clients": { type: "string", default: "50" },
    "new-workspaces": { type: "string", default: "10" },
    profile: { type: "string", default: "unmet" },
    out: { type: "string", default: "BENCHMARKS.md" },
    json: { type: "string" },
  },
  strict: true,
});

const count = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const WORKLOADS: readonly Workload[] = ["manifest", "blob", "cold", "first-manifest"];
/** --profile: unmet (default), all, none, or a comma-separated list of workloads. */
const profile = values.profile;
const listed = profile.split(",").filter((w): w is Workload => (WORKLOADS as readonly string[]).includes(w));
if (!["unmet", "all", "none"].includes(profile) && listed.length !== profile.split(",").length) throw new Error(`--profile is unmet, all, none or some of ${WORKLOADS.join(",")}`);

const options: BenchOptions = {
  layerMiB: count("layer-mib"),
  seconds: count("seconds"),
  coldRuns: count("cold-runs"),
  memoryClients: count("memory-clients"),
  singleFlightClients: count("single-flight-clients"),
  newWorkspaces: count("new-workspaces"),
  log: (line) => process.stderr.write(`bench: ${line}\n`),
};
const started = new Date();
// Workloads run again under `node --cpu-prof`: those whose target was missed, all, or none.
const { measured, profiles } = await runBench(options, (m) => (profile === "all" ? [...WORKLOADS] : profile === "unmet" ? unmetWorkloads(m) : listed));
const args = process.argv.slice(2);
const report = render(measured, profiles, {
  date: started.toISOString(),
  command: `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`,
  distributionVersion: (await run("docker-registry", ["--version"])).stdout.trim().split(" ").pop() ?? "?",
  skopeoVersion: (await run("skopeo", ["--version"])).stdout.trim(),
}, options);
await writeFile(values.out, report);
if (values.json) await writeFile(values.json, JSON.stringify({ measured, rows: rows(measured), profiles }, null, 2));
process.stdout.write(`${report}\n`);
