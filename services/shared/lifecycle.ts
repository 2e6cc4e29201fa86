import type { Logger } from "./logging.ts";
import { shutdownTracing } from "./telemetry/tracing.ts";

/**
 * SIGTERM and SIGINT run stop() once (the service's own graceful stop), then
 * flush the spans still buffered, then exit: 0 after a clean stop, 1 when it
 * failed. A second signal while stopping changes nothing.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    // Kept listening: without a listener a second signal (Ctrl-C in a terminal
    // reaches npm and node both) would kill the process mid-drain.
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      stop()
        .then(
          () => 0,
          (err: unknown) => {
            logger.error({ err }, "unclean stop");
            return 1;
          },
        )
        .then(async (code) => {
          await shutdownTracing().catch((err: unknown) => logger.warn({ err }, "could not flush traces"));
          process.exit(code);
        });
    });
  }
}
