import { readFile } from "node:fs/promises";
import { z } from "zod";
import { applyEnvOverrides } from "./env.ts";
import { configSchema, type Config } from "./schema.ts";

/** A configuration file that cannot be used; the message names every bad key. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid configuration ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Validates an already parsed configuration object. applied maps a key path
 * to the environment variable that set it, for the error messages.
 */
export function parseConfig(raw: unknown, source = "(inline)", applied: ReadonlyMap<string, string> = new Map()): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, result.error.issues.map((issue) => describeIssue(issue, applied)));
  return result.data;
}

/**
 * Reads and validates a configuration file (no file means embedded
 * defaults), with the REGISTRY_FACADE_* overrides of env applied (env.ts).
 */
export async function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  if (path === undefined) return parseWithEnv({}, "(embedded defaults)", env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseWithEnv(raw, path, env);
}

function parseWithEnv(raw: unknown, source: string, env: NodeJS.ProcessEnv): Config {
  const overridden = applyEnvOverrides(raw, env);
  return parseConfig(overridden.raw, source, overridden.applied);
}

function describeIssue(issue: z.core.$ZodIssue, applied: ReadonlyMap<string, string>): string {
  const at = issue.path.length === 0 ? "(top level)" : issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const base = issue.path.length === 0 ? "" : `${at}.`;
    return issue.keys.map((k) => `${base}${k}: unknown key`).join("; ");
  }
  // The variable that set the key, or set a list the key is inside of.
  const from = [...applied].find(([path]) => at === path || at.startsWith(`${path}.`))?.[1];
  return `${at}: ${issue.message}${from ? ` (from ${from})` : ""}`;
}
