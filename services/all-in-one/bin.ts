/**
 * `npm start`: both services in one process. Tracing is started before the
 * services are imported: instrumentation patches modules as they load (see telemetry/tracing.ts).
 */
import { startTracing } from "../shared/telemetry/tracing.ts";

startTracing("registry-facade");
await import("./main.ts");
