import { unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "./logging.ts";

/** How often watched files are checked for changes. */
export const WATCH_INTERVAL_MS = 1000;

/**
 * A value loaded from one or more files and reloaded when any of them
 * changes: credentials that rotate every few hours, certificates, password
 * files. Files are polled (stat) rather than watched with fs.watch, which
 * loses track of a file replaced by rename (how editors and atomic writers
 * save) and of Kubernetes' symlink swap behind a mounted secret.
 *
 * The new value replaces the old one whole, so a reader never sees a mix. A
 * reload that fails keeps the last good value and logs why; load() must
 * therefore throw errors whose message carries no file content (a JSON
 * parser's message quotes the text around the error, secrets included).
 */
export class ReloadingValue<T> {
  private reloading: Promise<void> | undefined;
  private again = false;
  private readonly listener = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size) this.reload();
  };

  private constructor(
    private value: T,
    private readonly what: string,
    private readonly paths: readonly string[],
    private readonly load: () => Promise<T>,
    private readonly logger: Logger,
    private readonly onReload: ((value: T) => void) | undefined,
  ) {
    for (const path of paths) watchFile(path, { interval: WATCH_INTERVAL_MS, persistent: false }, this.listener);
  }

  /** Loads the value once (a failure here is a start-up error) and watches the files. */
  static async open<T>(options: { what: string; paths: readonly string[]; load: () => Promise<T>; logger: Logger; onReload?: (value: T) => void }): Promise<ReloadingValue<T>> {
    const value = await options.load();
    return new ReloadingValue(value, options.what, options.paths, options.load, options.logger, options.onReload);
  }

  get current(): T {
    return this.value;
  }

  close(): void {
    for (const path of this.paths) unwatchFile(path, this.listener);
  }

  /** One load at a time; a change during a load triggers one more afterwards. */
  private reload(): void {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.reloading = this.load().then(
      (value) => {
        this.value = value;
        this.logger.info({ what: this.what }, "reloaded after a file change");
        this.onReload?.(value);
      },
      (err: unknown) => this.logger.warn({ what: this.what, reason: (err as Error).message }, "reload failed; keeping the last good version"),
    );
    void this.reloading.finally(() => {
      this.reloading = undefined;
      if (this.again) {
        this.again = false;
        this.reload();
      }
    });
  }
}
