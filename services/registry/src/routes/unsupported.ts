import type { Context, Next } from "koa";
import { notFoundRoute, RegistryError } from "../errors.ts";

const WRITE_METHODS = new Set(["PUT", "POST", "PATCH", "DELETE"]);

/**
 * Everything the router did not answer: writes under /v2 are refused with
 * 405 UNSUPPORTED (this registry is pull-only), any other request gets an
 * OCI error rather than Koa's default 404 text or, worse, a 200.
 */
export function unsupported(v2Root: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    if (ctx.status !== 404 || ctx.body !== undefined) return;
    if (WRITE_METHODS.has(ctx.method) && (ctx.path === v2Root || ctx.path.startsWith(`${v2Root}/`))) {
      throw new RegistryError("UNSUPPORTED", "this registry is pull-only", { method: ctx.method }, 405, { Allow: "GET, HEAD" });
    }
    throw notFoundRoute(ctx.method, ctx.path);
  };
}
