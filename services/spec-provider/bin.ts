/**
 * The spec-provider process. Tracing is started before the service is
 * imported: instrumentation patches modules as they load (see telemetry/tracing.ts).
 */
import { startTracing } from "../shared/telemetry/tracing.ts";

startTracing("spec-provider");
await import("./main.ts");
