import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./load.ts";
import type { Config } from "./schema.ts";

/**
 * For process entries only: the configuration named by --config (embedded
 * defaults without it). A file that cannot be used ends the process with
 * exit code 2 and one message naming every bad key, not a stack trace.
 */
export async function configFromArgs(service: string): Promise<{ config: Config; path: string | undefined }> {
  const { values } = parseArgs({ options: { config: { type: "string" } }, strict: true });
  try {
    return { config: await loadConfig(values.config), path: values.config };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${service}: ${err.message}\n`);
    process.exit(2);
  }
}
