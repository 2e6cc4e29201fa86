import type Router from "@koa/router";
import { parseAccept } from "../accept.ts";
import type { AppContext } from "../context.ts";
import { parseManifestReference, parseRepository } from "../names.ts";

/**
 * GET|HEAD /v2/<name>/manifests/<reference>. HEAD composes too and carries
 * Docker-Content-Digest and Content-Length: containerd resolves a tag with
 * HEAD and then fetches by that digest.
 */
export function manifestRoute(router: Router, app: AppContext): void {
  router.get("/v2/*name/manifests/:reference", async (ctx) => {
    const repo = parseRepository(ctx.params["name"] ?? "");
    const reference = parseManifestReference(ctx.params["reference"] ?? "");
    const accepted = parseAccept(ctx.get("accept") || undefined);
    const manifest = reference.kind === "tag" ? await app.manifests.byTag(repo, accepted) : await app.manifests.byDigest(repo, reference.digest, accepted);
    ctx.set({ "Docker-Content-Digest": manifest.digest, ETag: `"${manifest.digest}"` });
    // RFC 9111's obsolete but still understood "110 Response is Stale", with the reason.
    if (manifest.warning) ctx.set("Warning", `110 registry-facade "${manifest.warning.replaceAll('"', "'")}"`);
    ctx.type = manifest.mediaType;
    // Koa answers HEAD from a GET route, keeping Content-Length and dropping the body.
    ctx.body = manifest.bytes;
  });
}
