import type Router from "@koa/router";
import type { AppContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { parseBlobDigest, parseRepository } from "../names.ts";

/**
 * GET|HEAD /v2/<name>/blobs/<digest>. Only blobs the repository's own
 * compositions reference are served: workspaces cannot read each other's layers.
 */
export function blobRoute(router: Router, app: AppContext): void {
  router.get("/v2/*name/blobs/:digest", async (ctx) => {
    const repo = parseRepository(ctx.params["name"] ?? "");
    const digest = parseBlobDigest(ctx.params["digest"] ?? "");
    const blob = (await app.store.repository(repo.name))?.blobs[digest];
    if (!blob) throw new RegistryError("BLOB_UNKNOWN", "blob unknown to this repository", { name: repo.name, digest });
    await app.blobs.serve(ctx, repo.name, digest, blob);
  });
}
