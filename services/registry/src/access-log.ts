import type Koa from "koa";
import type { Logger } from "../../shared/logging.ts";
import { httpRequestDuration, httpRequests, secondsSince } from "../../shared/telemetry/metrics.ts";

/** What the blob server tells the access log about a body it sent (ctx.state.blob). */
export interface BlobTransfer {
  /** Where the bytes came from: upstream, cache, file, content, store. */
  source: string;
  /** Body bytes written so far. */
  bytes: number;
}

/**
 * One line per request, written when the response is done (a blob stream
 * included), and the request metrics. An operator looking for why a
 * workspace did not start greps its id: the line has the workspace (for
 * remote/<id>), the repository, the digest served, the body bytes that went
 * out, whether all of them did, the duration and, for blobs, the source.
 */
export function accessLog(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    ctx.res.once("close", () => {
      const seconds = secondsSince(started);
      const status = ctx.res.statusCode;
      const name = typeof ctx.params?.["name"] === "string" ? ctx.params["name"] : undefined;
      const blob = ctx.state["blob"] as BlobTransfer | undefined;
      const route = routeOf(ctx.path);
      logger.info(
        {
          method: ctx.method,
          path: ctx.path,
          status,
          ms: Math.round(seconds * 10_000) / 10,
          complete: ctx.res.writableFinished,
          ...(name?.startsWith("remote/") ? { workspace: name.slice("remote/".length) } : {}),
          ...(name ? { repository: name } : {}),
          ...(ctx.response.get("Docker-Content-Digest") ? { digest: ctx.response.get("Docker-Content-Digest") } : {}),
          bytes: blob?.bytes ?? (ctx.method === "HEAD" ? 0 : (ctx.response.length ?? 0)),
          ...(blob ? { source: blob.source } : {}),
        },
        "request",
      );
      const labels = { route, method: ctx.method, status: String(status) };
      httpRequests.inc(labels);
      httpRequestDuration.observe(labels, seconds);
    });
    await next();
  };
}

/** The route label: a small fixed set, never the path (ids and digests would make a series each). */
function routeOf(path: string): string {
  if (/\/v2\/.+\/manifests\/[^/]+$/.test(path)) return "manifest";
  if (/\/v2\/.+\/blobs\/[^/]+$/.test(path)) return "blob";
  if (/\/v2\/?$/.test(path)) return "base";
  return "other";
}
