import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/** The parts of V8's .cpuprofile (what `node --cpu-prof` writes) this summary reads. */
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface Frame {
  name: string;
  /** Self time in ms. */
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers, ms. */
  totalMs: number;
  /** Time the main thread was not idle, ms. */
  busyMs: number;
  top: Frame[];
  /** Self time grouped by where the code lives (a package, node internals, this project, GC). */
  byArea: Frame[];
}

const root = process.cwd();

/** "fn file:line", file relative to the project or as node names it. */
function frameName(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const file = frame.url.startsWith("file://") ? relative(root, new URL(frame.url).pathname) : frame.url;
  return file ? `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}` : frame.functionName;
}

function area(frame: CpuProfile["nodes"][number]["callFrame"]): string {
  const url = frame.url;
  // (garbage collector), (program); or a native binding (fs, sockets, crypto) called from JS.
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "native bindings";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith("node:")) return `node ${url.slice(5).replace(/^internal\//, "").split("/")[0]}`;
  if (!url.startsWith("file://")) return url.split(":")[0] ?? url;
  return `project ${relative(root, new URL(url).pathname).split("/").slice(0, 3).join("/")}`;
}

function rank(times: Map<string, number>, busyMs: number, n: number): Frame[] {
  return [...times]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

/**
 * Self time per function (from sample time deltas, not hit counts) of the
 * samples within window, in ms since profiling started (about when the
 * process started): start-up and shutdown are not what is measured.
 */
export function summarise(profile: CpuProfile, window: { fromMs: number; toMs: number }, topN = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  let at = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    at += ms;
    if (at < window.fromMs || at > window.toMs) return;
    const frame = byId.get(id);
    totalMs += ms;
    if (!frame || frame.functionName === "(idle)") {
      idleMs += ms;
      return;
    }
    const name = frameName(frame);
    self.set(name, (self.get(name) ?? 0) + ms);
    const where = area(frame);
    areas.set(where, (areas.get(where) ?? 0) + ms);
  });
  const busyMs = totalMs - idleMs;
  return { totalMs, busyMs, top: rank(self, busyMs, topN), byArea: rank(areas, busyMs, 8) };
}

/** The profile a process wrote into dir (one process per directory). */
export async function readProfile(dir: string): Promise<CpuProfile> {
  const file = (await readdir(dir)).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  return JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
}
