import { register } from "node:module";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { KoaInstrumentation, KoaLayerType } from "@opentelemetry/instrumentation-koa";
import { PinoInstrumentation } from "@opentelemetry/instrumentation-pino";
import { UndiciInstrumentation } from "@opentelemetry/instrumentation-undici";

/**
 * OpenTelemetry tracing, switched on by the standard OTEL_* variables and off
 * when none asks for it. Instrumentation patches modules as they load, and an
 * ES module graph is loaded whole before any of it runs: so each bin calls
 * startTracing() and only then imports the service (dynamically).
 */

let sdk: NodeSDK | undefined;

/** Tracing is wanted when an OTLP endpoint or a trace exporter is named, and the SDK is not disabled. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env["OTEL_SDK_DISABLED"] === "true") return false;
  const exporter = env["OTEL_TRACES_EXPORTER"];
  if (exporter !== undefined && exporter !== "") return exporter !== "none";
  return Boolean(env["OTEL_EXPORTER_OTLP_ENDPOINT"] || env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
}

export function startTracing(defaultServiceName: string): void {
  if (sdk !== undefined || !tracingRequested()) return;
  process.env["OTEL_SERVICE_NAME"] ||= defaultServiceName;
  // Metrics are scraped by Prometheus and logs go to stdout: only traces leave through OTLP.
  process.env["OTEL_METRICS_EXPORTER"] ||= "none";
  process.env["OTEL_LOGS_EXPORTER"] ||= "none";
  // ES modules are patched through this loader hook; only the packages instrumented below are wrapped.
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url, {
    data: { include: ["@grpc/grpc-js", "koa", "pino", "http", "https", "node:http", "node:https"] },
  });
  sdk = new NodeSDK({
    instrumentations: [
      new HttpInstrumentation(),
      new GrpcInstrumentation(),
      // The route's span says which handler ran; one span per anonymous middleware would only be noise.
      new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
      new UndiciInstrumentation(),
      // trace_id and span_id on every line logged inside a span; the lines themselves stay on stdout.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
}

/** Sends the spans still buffered; called last when a process stops. */
export async function shutdownTracing(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}
