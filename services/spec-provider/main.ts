import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../shared/config/load.ts";
import { createLogger } from "../shared/logging.ts";
import { startSpecProvider } from "./src/index.ts";

/** The process entry: arguments, configuration, logger, signals. Everything else is in src/. */
const { values } = parseArgs({ options: { config: { type: "string" } }, strict: true });

let config;
try {
  config = await loadConfig(values.config);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`spec-provider: ${err.message}\n`);
  process.exit(2);
}

const logger = createLogger({ level: config.logLevel, service: "spec-provider" });
let provider;
try {
  provider = await startSpecProvider(config, logger);
} catch (err) {
  // E.g. NATS unreachable or the port taken: logged, not an unhandled rejection.
  logger.fatal({ err }, "cannot start");
  process.exit(1);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stopping");
    provider.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "unclean stop");
        process.exit(1);
      },
    );
  });
}
