import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../shared/config/load.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createLogger } from "../shared/logging.ts";
import { startOpsServer, type OpsServer } from "../shared/telemetry/ops-server.ts";
import { startSpecProvider, type RunningSpecProvider } from "./src/index.ts";

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
let provider: RunningSpecProvider | undefined;
let ops: OpsServer;
try {
  // Metrics and probes answer from the start; /ready mirrors grpc.health.v1.
  ops = await startOpsServer(config, async () => provider?.ready() ?? { ready: false, checks: { startup: "starting" } }, logger);
  provider = await startSpecProvider(config, logger);
} catch (err) {
  // E.g. NATS unreachable or the port taken: logged, not an unhandled rejection.
  logger.fatal({ err }, "cannot start");
  process.exit(1);
}

const running = provider;
stopOnSignals(logger, async () => {
  await running.stop();
  await ops.close();
});
