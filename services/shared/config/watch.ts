import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "../logging.ts";
import { ConfigError, loadConfig } from "./load.ts";
import type { Config } from "./schema.ts";

/** How often the configuration file is checked. */
const POLL_MS = 1000;

/**
 * Calls onChange with the new configuration whenever the file changes and
 * still validates. It is polled (stat), not watched with fs.watch, which
 * loses a file replaced by rename (editors, a Kubernetes ConfigMap's symlink
 * swap). A file that no longer validates changes nothing: the problems are
 * logged and the running configuration stays. Returns the stop function.
 */
export function watchConfig(path: string, logger: Logger, onChange: (config: Config) => Promise<void>): () => void {
  let applying = Promise.resolve();
  const listener = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    applying = applying.then(async () => {
      try {
        await onChange(await loadConfig(path));
      } catch (err) {
        if (err instanceof ConfigError) logger.warn({ problems: err.problems }, "changed configuration file not applied: invalid");
        else logger.warn({ reason: (err as Error).message }, "changed configuration file not applied");
      }
    });
  };
  watchFile(path, { interval: POLL_MS }, listener);
  return () => unwatchFile(path, listener);
}
