import { readFile } from "node:fs/promises";
import { z } from "zod";
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

/** Validates an already parsed configuration object. */
export function parseConfig(raw: unknown, source = "(inline)"): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(describeIssue));
  return result.data;
}

/** Reads and validates a configuration file; no file means embedded defaults. */
export async function loadConfig(path: string | undefined): Promise<Config> {
  if (path === undefined) return parseConfig({}, "(embedded defaults)");
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
  return parseConfig(raw, path);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.length === 0 ? "(top level)" : issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const base = issue.path.length === 0 ? "" : `${at}.`;
    return issue.keys.map((k) => `${base}${k}: unknown key`).join("; ");
  }
  return `${at}: ${issue.message}`;
}
