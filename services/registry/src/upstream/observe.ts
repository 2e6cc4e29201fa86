import { subscribe } from "node:diagnostics_channel";
import type { DiagnosticsChannel } from "undici";
import { secondsSince, upstreamRequestDuration, upstreamRequestErrors } from "../../../shared/telemetry/metrics.ts";

let observing = false;

/**
 * Upstream request metrics from undici's diagnostics channels: every request
 * of the upstream client (registries, content URLs, redirects to a CDN) is
 * seen, whichever code path sent it. Only the registry uses undici. Requests
 * we aborted ourselves (the client went away) are not upstream errors.
 */
export function observeUpstreamRequests(): void {
  if (observing) return;
  observing = true;
  const started = new WeakMap<object, number>();
  subscribe("undici:request:create", (message) => {
    started.set((message as DiagnosticsChannel.RequestCreateMessage).request, performance.now());
  });
  subscribe("undici:request:headers", (message) => {
    const { request, response } = message as DiagnosticsChannel.RequestHeadersMessage;
    const since = started.get(request);
    const host = hostOf(request);
    if (since !== undefined) upstreamRequestDuration.observe({ host, status: String(response.statusCode) }, secondsSince(since));
    if (response.statusCode === 429 || response.statusCode >= 500) upstreamRequestErrors.inc({ host, kind: "status" });
  });
  subscribe("undici:request:error", (message) => {
    const { request, error } = message as DiagnosticsChannel.RequestErrorMessage;
    if (error.name === "AbortError" || error.name === "RequestAbortedError") return;
    upstreamRequestErrors.inc({ host: hostOf(request), kind: "network" });
  });
}

function hostOf(request: DiagnosticsChannel.Request): string {
  try {
    return new URL(String(request.origin)).host;
  } catch {
    return "unknown";
  }
}
