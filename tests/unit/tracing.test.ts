import { test } from "node:test";
import assert from "node:assert/strict";
import { tracingRequested } from "../../services/shared/telemetry/tracing.ts";

test("tracing is on only when an OTEL_* variable asks for it", () => {
  const cases: Array<[NodeJS.ProcessEnv, boolean]> = [
    [{}, false],
    [{ OTEL_SERVICE_NAME: "registry" }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/v1/traces" }, true],
    [{ OTEL_TRACES_EXPORTER: "console" }, true],
    [{ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
    [{ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" }, false],
  ];
  for (const [env, expected] of cases) assert.equal(tracingRequested(env), expected, JSON.stringify(env));
});
