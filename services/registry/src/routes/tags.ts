import type Router from "@koa/router";
import type { AppContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { parseRepository } from "../names.ts";

/**
 * GET /v2/<name>/tags/list, with the spec's n and last paging. Clients list
 * tags before inspecting an image (skopeo inspect does), so a registry that
 * has none to list still answers for a repository that exists.
 */
export function tagsRoute(router: Router, app: AppContext): void {
  router.get("/v2/*name/tags/list", async (ctx) => {
    const repo = parseRepository(ctx.params["name"] ?? "");
    const n = ctx.query["n"];
    const last = typeof ctx.query["last"] === "string" ? ctx.query["last"] : undefined;
    if (n !== undefined && (typeof n !== "string" || !/^\d+$/.test(n))) {
      throw new RegistryError("PAGINATION_NUMBER_INVALID", "n must be a non-negative integer", { n });
    }
    const after = (await app.manifests.tags(repo)).filter((tag) => last === undefined || tag > last);
    ctx.body = { name: repo.name, tags: n === undefined ? after : after.slice(0, Number(n)) };
  });
}
