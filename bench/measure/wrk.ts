import { fileURLToPath } from "node:url";
import { run } from "../../tests/support/oci-clients.ts";

const SCRIPT = fileURLToPath(new URL("./wrk-json.lua", import.meta.url));

export interface WrkResult {
  requests: number;
  seconds: number;
  bytes: number;
  /** Socket errors and timeouts. */
  errors: number;
  /** Answers that were not 2xx/3xx. */
  non2xx: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
  /** Per-request timeout; a 512 MiB answer shared by 8 connections takes seconds. */
  timeoutSeconds?: number;
}

/** One wrk run (C, so the load generator costs little of the 2 cores); fails on any error answer. */
export async function wrk(options: WrkOptions): Promise<WrkResult> {
  const threads = Math.min(2, options.connections);
  const args = ["-t", String(threads), "-c", String(options.connections), "-d", `${options.seconds}s`, "--timeout", `${options.timeoutSeconds ?? 10}s`, "-s", SCRIPT];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  const { stdout } = await run("wrk", [...args, options.url], (options.seconds + 60) * 1000);
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const raw = JSON.parse(line.slice("WRK_JSON ".length)) as Omit<WrkResult, "seconds"> & { durationUs: number };
  // A 512 MiB answer may take longer than the run: bytes, not completed requests, show it worked.
  if (raw.non2xx > 0 || raw.bytes === 0) throw new Error(`wrk ${options.url}: ${raw.non2xx} error answers of ${raw.requests}, ${raw.bytes} bytes`);
  return { ...raw, seconds: raw.durationUs / 1e6 };
}
