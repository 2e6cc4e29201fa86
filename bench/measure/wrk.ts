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

/** Runs with no answer and no error before the window is taken as too short (see wrk). */
const EMPTY_WINDOW_RETRIES = 2;

/**
 * One wrk run (C, so the load generator costs little of the 2 cores); fails
 * on any error answer. A window in which nothing finished and nothing failed
 * measured nothing: on a starved machine a one-second window can pass before
 * the first answer. Such a run is repeated with twice the window.
 */
export async function wrk(options: WrkOptions): Promise<WrkResult> {
  for (let attempt = 0, seconds = options.seconds; ; attempt++, seconds *= 2) {
    const raw = await wrkOnce(options, seconds);
    // A 512 MiB answer may take longer than the run: bytes, not completed requests, show it worked.
    const empty = raw.bytes === 0 && raw.non2xx === 0 && raw.errors === 0;
    if (empty && attempt < EMPTY_WINDOW_RETRIES) continue;
    if (raw.non2xx > 0 || raw.bytes === 0) throw new Error(`wrk ${options.url}: ${raw.non2xx} error answers of ${raw.requests}, ${raw.bytes} bytes, ${raw.errors} socket errors and timeouts in ${seconds} s`);
    return { ...raw, seconds: raw.durationUs / 1e6 };
  }
}

async function wrkOnce(options: WrkOptions, seconds: number): Promise<Omit<WrkResult, "seconds"> & { durationUs: number }> {
  const threads = Math.min(2, options.connections);
  const args = ["-t", String(threads), "-c", String(options.connections), "-d", `${seconds}s`, "--timeout", `${options.timeoutSeconds ?? 10}s`, "-s", SCRIPT];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push("-H", `${name}: ${value}`);
  const { stdout } = await run("wrk", [...args, options.url], (seconds + 60) * 1000);
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  return JSON.parse(line.slice("WRK_JSON ".length)) as Omit<WrkResult, "seconds"> & { durationUs: number };
}
