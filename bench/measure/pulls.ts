import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { rssKiB } from "../../tests/support/process.ts";

/**
 * `clients` full GETs of url at once, each by its own curl (C, discarding
 * the body), all checked for status 200 and the full size.
 */
export async function pullAll(url: string, clients: number, size: number): Promise<void> {
  const one = () =>
    new Promise<string>((resolve, reject) => {
      const curl = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      curl.stdout.on("data", (c: Buffer) => (out += c.toString()));
      curl.stderr.on("data", (c: Buffer) => (out += c.toString()));
      curl.once("error", reject);
      curl.once("close", () => resolve(out.trim()));
    });
  const results = await Promise.all(Array.from({ length: clients }, one));
  const wrong = results.filter((r) => r !== `200 ${size}`);
  if (wrong.length > 0) throw new Error(`${wrong.length} of ${clients} pulls of ${url} failed: ${wrong.slice(0, 3).join("; ")}`);
}

/** Samples a process's VmRSS every 50 ms until stopped; returns the peak in MiB. */
function sampleRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssKiB(pid));
      await sleep(50);
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      return peak / 1024;
    },
  };
}

export interface RssFigures {
  /** VmRSS just before the pulls, MiB. */
  baselineMiB: number;
  /** Highest VmRSS sampled during them, MiB. */
  peakMiB: number;
}

/** VmRSS of pid before and while `clients` pull url at once. */
export async function rssDuringPulls(pid: number, url: string, clients: number, size: number): Promise<RssFigures> {
  const baselineMiB = (await rssKiB(pid)) / 1024;
  const sampler = sampleRss(pid);
  try {
    await pullAll(url, clients, size);
  } catch (err) {
    await sampler.stop();
    throw err;
  }
  return { baselineMiB, peakMiB: await sampler.stop() };
}
