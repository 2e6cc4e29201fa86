import { configFromArgs } from "../shared/config/from-args.ts";
import { loadConfig } from "../shared/config/load.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { createLogger } from "../shared/logging.ts";
import { ReloadingValue } from "../shared/reloading.ts";
import { startOpsServer, type OpsServer } from "../shared/telemetry/ops-server.ts";
import { startRegistry, type RunningRegistry } from "./src/index.ts";

const { config, path: configFile } = await configFromArgs("registry");

const logger = createLogger({ level: config.logLevel, service: "registry" });
let registry: RunningRegistry | undefined;
let ops: OpsServer;
try {
  // Probes and metrics answer from the start: while the registry starts,
  // /live is 200 and /ready says why it is not ready yet.
  ops = await startOpsServer(config, async () => registry?.ready() ?? { ready: false, checks: { startup: "starting" } }, logger);
  registry = await startRegistry(config, logger);
} catch (err) {
  logger.fatal({ err }, "cannot start");
  process.exit(1);
}
const running = registry;
// Only registry.staticLayer is applied while running (an edit that does not
// validate is logged and changes nothing); anything else needs a restart.
const watched =
  configFile === undefined
    ? undefined
    : await ReloadingValue.open({
        what: "configuration file",
        paths: [configFile],
        load: () => loadConfig(configFile),
        logger,
        onReload: (next) => {
          running.reloadStaticLayers(next.registry.staticLayer).then(
            (changed) => changed || logger.info("static layers unchanged; other keys apply at the next start"),
            (err: unknown) => logger.warn({ reason: (err as Error).message }, "static layers not reloaded; keeping the old ones"),
          );
        },
      });
stopOnSignals(logger, async () => {
  watched?.close();
  await running.stop();
  await ops.close();
});
