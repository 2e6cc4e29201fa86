import { cpus, totalmem } from "node:os";
import type { Measured, Pair, Workload } from "./bench.ts";
import type { ProfileSummary } from "./profile.ts";

/** One line of the table: both figures, this project ÷ distribution, and the target. */
export interface Row {
  figure: string;
  distribution: string;
  facade: string;
  ratio: number | undefined;
  target: string;
  met: boolean;
  /** The workload whose profile explains a miss. */
  workload?: Workload;
  /** Said under the table when the target is missed. */
  note?: string;
}

export interface Environment {
  date: string;
  command: string;
  distributionVersion: string;
  skopeoVersion: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const f1 = (x: number) => x.toFixed(1);
const gbs = (x: number) => `${(x / 1e9).toFixed(2)} GB/s`;
const ratioOf = (p: Pair<number>) => p.facade / p.distribution;

export function rows(m: Measured): Row[] {
  const rps = { distribution: m.manifest.distribution.rps, facade: m.manifest.facade.rps };
  const p50 = { distribution: m.manifest.distribution.p50Ms, facade: m.manifest.facade.p50Ms };
  const p99 = { distribution: m.manifest.distribution.p99Ms, facade: m.manifest.facade.p99Ms };
  const cold = { distribution: median(m.cold.distribution), facade: median(m.cold.facade) };
  const memory = { distribution: m.memory.distribution.peakMiB, facade: m.memory.facade.peakMiB };
  const first = { distribution: median(m.firstManifest.distribution), facade: median(m.firstManifest.facade) };
  const mib = `${Math.round(m.layerBytes / 2 ** 20)} MiB`;
  const runs = (xs: number[]) => `${f1(median(xs))} s (${xs.map(f1).join(", ")})`;
  return [
    { figure: "manifest GET by tag, 50 connections: requests/s", distribution: rps.distribution.toFixed(0), facade: rps.facade.toFixed(0), ratio: ratioOf(rps), target: "≥ 1.0", met: ratioOf(rps) >= 1, workload: "manifest" },
    { figure: "manifest GET by tag: p50 latency", distribution: `${p50.distribution.toFixed(2)} ms`, facade: `${p50.facade.toFixed(2)} ms`, ratio: ratioOf(p50), target: "—", met: true },
    { figure: "manifest GET by tag: p99 latency", distribution: `${p99.distribution.toFixed(2)} ms`, facade: `${p99.facade.toFixed(2)} ms`, ratio: ratioOf(p99), target: "≤ 1.0", met: ratioOf(p99) <= 1, workload: "manifest" },
    { figure: `warm ${mib} blob GET, 1 client`, distribution: gbs(m.blob1.distribution), facade: gbs(m.blob1.facade), ratio: ratioOf(m.blob1), target: "≥ 0.9", met: ratioOf(m.blob1) >= 0.9, workload: "blob" },
    { figure: `warm ${mib} blob GET, 8 clients`, distribution: gbs(m.blob8.distribution), facade: gbs(m.blob8.facade), ratio: ratioOf(m.blob8), target: "≥ 0.9", met: ratioOf(m.blob8) >= 0.9, workload: "blob" },
    { figure: "cold pull with skopeo (median of runs)", distribution: runs(m.cold.distribution), facade: runs(m.cold.facade), ratio: ratioOf(cold), target: "≤ 1.15", met: ratioOf(cold) <= 1.15, workload: "cold" },
    {
      figure: `peak VmRSS while ${mib} blob is pulled by many clients at once`,
      distribution: `${f1(memory.distribution)} MiB`,
      facade: `${f1(memory.facade)} MiB`,
      ratio: ratioOf(memory),
      target: "facade ≤ 200 MiB",
      met: memory.facade <= 200,
      note: `registry-facade: ${f1(m.facadeIdleMiB)} MiB just after start (compiled, plain node), ${f1(m.memory.facade.baselineMiB)} MiB before the pulls (what the cold pull, manifest and blob phases left), ${f1(memory.facade)} MiB at the peak.`,
    },
    { figure: "upstream GETs caused by concurrent cold GETs of one blob", distribution: "—", facade: String(m.singleFlight.upstreamGets), ratio: undefined, target: "= 1", met: m.singleFlight.upstreamGets === 1 },
    {
      figure: "first manifest of a new workspace, image metadata warm (median)",
      distribution: `${first.distribution.toFixed(2)} ms (existing tag)`,
      facade: `${first.facade.toFixed(2)} ms (max ${Math.max(...m.firstManifest.facade).toFixed(2)})`,
      ratio: ratioOf(first),
      target: "facade ≤ 50 ms",
      met: first.facade <= 50,
      workload: "first-manifest",
    },
  ];
}

/** The workloads whose profile would explain a missed target. */
export function unmetWorkloads(m: Measured): Workload[] {
  return [...new Set(rows(m).flatMap((r) => (!r.met && r.workload ? [r.workload] : [])))];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** What the busy share says about the limit; the tables below say where the busy time went. */
function boundBy(p: ProfileSummary): string {
  const busy = p.busyMs / p.totalMs;
  if (busy >= 0.9) return " The registry's one JavaScript thread is the limit here: it was (almost) never idle.";
  if (busy < 0.6) return " Its CPU is not the limit: most of the time it waited (for the upstream, the disk, the client).";
  return "";
}

function profileSection(workload: Workload, p: ProfileSummary): string {
  return [
    `### Profile: ${workload}`,
    "",
    `Registry main thread busy ${f1(p.busyMs / 1000)} s of ${f1(p.totalMs / 1000)} s profiled (${pct(p.busyMs / p.totalMs)}); the rest it waited for I/O.${boundBy(p)}`,
    "",
    "| self time by area | ms | share of busy |",
    "| --- | ---: | ---: |",
    ...p.byArea.map((a) => `| ${a.name} | ${a.ms.toFixed(0)} | ${pct(a.share)} |`),
    "",
    "| top functions by self time | ms | share of busy |",
    "| --- | ---: | ---: |",
    ...p.top.map((f) => `| \`${f.name}\` | ${f.ms.toFixed(0)} | ${pct(f.share)} |`),
    "",
  ].join("\n");
}

export function render(m: Measured, profiles: Partial<Record<Workload, ProfileSummary>>, env: Environment, o: { memoryClients: number; singleFlightClients: number; newWorkspaces: number }): string {
  const table = rows(m);
  const cpu = cpus();
  const unmet = table.filter((r) => !r.met);
  const lines = [
    "# Benchmarks: registry-facade side by side with the distribution registry",
    "",
    "Written by `npm run bench` (bench/); do not edit by hand.",
    "",
    `- date: ${env.date}`,
    `- command: \`${env.command}\``,
    `- machine: ${cpu.length} × ${cpu[0]?.model ?? "cpu"}, ${f1(totalmem() / 2 ** 30)} GiB memory; Node ${process.version}; distribution ${env.distributionVersion}; ${env.skopeoVersion}; wrk and curl as load generators`,
    "- both on loopback; distribution (its access log off) holds the base, IDE and supervisor images and the pre-composed image (the facade's own composed manifest and config pushed there, so both serve the same bytes) and is also the facade's upstream; the facade runs as its container image does: spec-provider and registry compiled by tsc, each its own plain `node` process, NATS for events, logs at warn",
    `- memory: peak VmRSS sampled every 50 ms while ${o.memoryClients} clients pull the blob at once (warm); upstream GETs: ${o.singleFlightClients} concurrent GETs of the blob on a registry that never fetched it, counted by a recording proxy; first manifest: ${o.newWorkspaces} new workspaces registered through the spec-provider, one after the other`,
    "",
    "| figure | distribution | registry-facade | ratio (facade ÷ distribution) | target | met |",
    "| --- | ---: | ---: | ---: | --- | --- |",
    ...table.map((r) => `| ${r.figure} | ${r.distribution} | ${r.facade} | ${r.ratio === undefined ? "—" : r.ratio.toFixed(2)} | ${r.target} | ${r.met ? "yes" : "**no**"} |`),
    "",
    `Cold single-flight run: peak VmRSS ${f1(m.singleFlight.rss.peakMiB)} MiB (${f1(m.singleFlight.rss.baselineMiB)} MiB before) while ${o.singleFlightClients} clients shared one upstream fetch.`,
    "",
  ];
  if (unmet.length > 0) {
    lines.push("## Targets not met", "");
    for (const r of unmet) lines.push(`- ${r.figure}: ${r.facade} against ${r.distribution}.${r.note ? ` ${r.note}` : ""}${r.workload && profiles[r.workload] ? ` See the ${r.workload} profile below.` : ""}`);
    lines.push("");
  }
  const profiled = Object.entries(profiles) as Array<[Workload, ProfileSummary]>;
  if (profiled.length > 0) {
    lines.push("## CPU profiles of the registry", "", "The workload run again against a registry started with `node --cpu-prof`; self time per function from the .cpuprofile (bench/profile.ts).", "");
    for (const [workload, p] of profiled) lines.push(profileSection(workload, p));
  }
  return lines.join("\n");
}
