/**
 * The registry process. Tracing is started before the service is imported:
 * instrumentation patches modules as they load (see telemetry/tracing.ts).
 */
import { startTracing } from "../shared/telemetry/tracing.ts";

startTracing("registry");
await import("./main.ts");
