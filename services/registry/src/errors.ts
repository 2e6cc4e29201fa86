import type { Context, Next } from "koa";
import type { Logger } from "../../shared/logging.ts";

/**
 * Every failure a client can see, as the OCI distribution spec names it. The
 * status of each code is decided here and nowhere else, so a route only says
 * what went wrong.
 */
export const ErrorCode = {
  BLOB_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  MANIFEST_INVALID: 400,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  PAGINATION_NUMBER_INVALID: 400,
  /** No valid credentials (registry.requireAuth); sent with a WWW-Authenticate challenge. */
  UNAUTHORIZED: 401,
  /** Valid credentials that do not cover this repository (another workspace's). */
  DENIED: 403,
  /** Push, delete and routes this registry does not serve. */
  UNSUPPORTED: 405,
  /** Not in the OCI list; distribution uses it for 503. Runtimes retry it, unlike a 404. */
  UNAVAILABLE: 503,
  /** An upstream answered with something that is not what it promised (bad digest, bad JSON). */
  UPSTREAM_INVALID: 502,
  RANGE_NOT_SATISFIABLE: 416,
  UNKNOWN: 500,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** Seconds a client should wait before retrying an UNAVAILABLE answer. */
export const RETRY_AFTER_SECONDS = 2;

export class RegistryError extends Error {
  constructor(
    readonly code: ErrorCodeName,
    message: string,
    readonly detail?: unknown,
    /** Overrides the code's status where the spec wants another (e.g. 404 for an unknown route). */
    readonly status: number = ErrorCode[code],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

export const notFoundRoute = (method: string, path: string) =>
  new RegistryError("UNSUPPORTED", "no such endpoint", { method, path }, 404);

export const unavailable = (message: string, detail?: unknown) =>
  new RegistryError("UNAVAILABLE", message, detail, 503, { "Retry-After": String(RETRY_AFTER_SECONDS) });

/** The composed image cannot be built from its spec: permanent until the spec changes. */
export const compositionFailed = (reason: string, detail?: unknown) =>
  new RegistryError("MANIFEST_UNKNOWN", `cannot compose image: ${reason}`, detail);

/** Renders any thrown value as the OCI error body; unexpected errors are logged and hidden. */
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const error = err instanceof RegistryError ? err : new RegistryError("UNKNOWN", "internal error");
      if (!(err instanceof RegistryError)) logger.error({ err, method: ctx.method, path: ctx.path }, "unexpected error");
      else if (error.status >= 500) logger.warn({ code: error.code, msg: error.message, detail: error.detail }, "request failed");
      if (ctx.headerSent || !ctx.writable) {
        // A stream already under way: the socket is the only thing left to fail.
        ctx.req.socket.destroy();
        return;
      }
      ctx.status = error.status;
      for (const [k, v] of Object.entries(error.headers)) ctx.set(k, v);
      ctx.type = "application/json";
      ctx.body = { errors: [{ code: error.code, message: error.message, ...(error.detail !== undefined ? { detail: error.detail } : {}) }] };
    }
  };
}
