import { configFromArgs } from "../shared/config/from-args.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createLogger } from "../shared/logging.ts";
import { startOpsServer, type OpsServer } from "../shared/telemetry/ops-server.ts";
import { startSpecProvider, type RunningSpecProvider } from "./src/index.ts";

/** The process entry: arguments, configuration, logger, signals. Everything else is in src/. */
const { config } = await configFromArgs("spec-provider");

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
