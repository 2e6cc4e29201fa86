import Koa from "koa";
import Router from "@koa/router";
import { accessLog } from "./access-log.ts";
import type { AppContext } from "./context.ts";
import { errorMiddleware } from "./errors.ts";
import { baseRoute } from "./routes/base.ts";
import { blobRoute } from "./routes/blobs.ts";
import { manifestRoute } from "./routes/manifests.ts";
import { tagsRoute } from "./routes/tags.ts";
import { unsupported } from "./routes/unsupported.ts";

/** The Koa application: error rendering outermost, then the fallback, then the routes. */
export function createApp(app: AppContext): Koa {
  const koa = new Koa();
  const router = new Router({ prefix: app.config.prefix || undefined });
  baseRoute(router);
  manifestRoute(router, app);
  blobRoute(router, app);
  tagsRoute(router, app);

  koa.use(accessLog(app.logger));
  koa.use(errorMiddleware(app.logger));
  koa.use(async (ctx, next) => {
    ctx.set("Docker-Distribution-API-Version", "registry/2.0");
    await next();
  });
  if (app.pullAuth) {
    // Authentication comes before everything a request could learn, even a 404 or 405;
    // authorization goes with the repository name as the routes see it.
    koa.use(app.pullAuth.middleware);
    router.param("name", app.pullAuth.repository);
  }
  koa.use(unsupported(`${app.config.prefix}/v2`));
  koa.use(router.routes());
  // Koa reports errors of responses it no longer controls (a blob stream cut
  // on purpose) here; without a listener it would print them to stderr.
  koa.on("error", (err: Error) => app.logger.debug({ reason: err.message }, "response ended with an error"));
  return koa;
}
