import type Router from "@koa/router";

/** GET /v2/: the version check every client starts with. */
export function baseRoute(router: Router): void {
  router.get("/v2/", (ctx) => {
    ctx.body = {};
  });
}
