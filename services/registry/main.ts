import { parseArgs } from "node:util";
import { loadConfig } from "../shared/config/load.ts";
import { createLogger } from "../shared/logging.ts";
import { startRegistry } from "./src/index.ts";

const { values } = parseArgs({ options: { config: { type: "string" } } });
const config = await loadConfig(values.config);
const logger = createLogger({ level: config.logLevel, service: "registry" });
const registry = await startRegistry(config, logger);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stopping");
    registry.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  });
}
