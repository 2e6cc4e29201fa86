import Koa from "koa";
import Router from "@koa/router";
import type { Logger } from "../../shared/logging.ts";
import type { AppContext } from "./context.ts";
import { errorMiddleware } from "./errors.ts";
import { baseRoute } from "./routes/base.ts";
import { blobRoute } from "./routes/blobs.ts";
import { manifestRoute } from "./routes/manifests.ts";
import { unsupported } from "./routes/unsupported.ts";

/** The Koa application: error rendering outermost, then the fallback, then the routes. */
export function createApp(app: AppContext): Koa {
  const koa = new Koa();
  const router = new Router({ prefix: app.config.prefix || undefined });
  baseRoute(router);
  manifestRoute(router, app);
  blobRoute(router, app);

  koa.use(accessLog(app.logger));
  koa.use(errorMiddleware(app.logger));
  koa.use(async (ctx, next) => {
    ctx.set("Docker-Distribution-API-Version", "registry/2.0");
    await next();
  });
  koa.use(unsupported(`${app.config.prefix}/v2`));
  koa.use(router.routes());
  // Koa reports errors of responses it no longer controls (a blob stream cut
  // on purpose) here; without a listener it would print them to stderr.
  koa.on("error", (err: Error) => app.logger.debug({ reason: err.message }, "response ended with an error"));
  return koa;
}

/** One line per request, written when the response is done (blob streams included). */
function accessLog(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    ctx.res.once("close", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info({ method: ctx.method, path: ctx.path, status: ctx.res.statusCode, ms: Math.round(ms * 10) / 10, complete: ctx.res.writableFinished }, "request");
    });
    await next();
  };
}
