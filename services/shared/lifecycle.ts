import type { Logger } from "./logging.ts";
import { shutdownTracing } from "./telemetry/tracing.ts";

/**
 * SIGTERM and SIGINT run stop() once (the service's own graceful stop), then
 * flush the spans still buffered, then exit: 0 after a clean stop, 1 when it
 * failed. A second signal while stopping changes nothing.
 */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
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
