import type { Context, Next } from "koa";
import type { RegistryConfig } from "../../../shared/config/schema.ts";
import type { Logger } from "../../../shared/logging.ts";
import { ReloadingValue } from "../../../shared/reloading.ts";
import { readSecretLines } from "../../../shared/secret-file.ts";
import { isWorkspacePassword } from "../../../shared/workspace-credential.ts";
import { RegistryError } from "../errors.ts";
import { Htpasswd } from "./htpasswd.ts";

/** Who a request's credentials say it is. */
type Principal = { kind: "operator"; user: string } | { kind: "workspace"; id: string };

/** The realm clients see; Basic is what skopeo, containerd and podman send to a registry that asks for it. */
const CHALLENGE = 'Basic realm="registry-facade", charset="UTF-8"';

export interface PullAuth {
  /** Koa middleware: 401 unless the request carries valid credentials. */
  readonly middleware: (ctx: Context, next: Next) => Promise<void>;
  /**
   * The router's param middleware for the repository name: 403 for a name the
   * credentials do not cover. It sees the name exactly as the route will use
   * it (decoded, whatever the case of /v2 or a trailing slash), which a check
   * of the raw path could not guarantee.
   */
  readonly repository: (name: string, ctx: Context, next: Next) => Promise<unknown>;
  close(): void;
}

/**
 * registry.requireAuth: every request must carry Basic credentials that
 * really check out, either an operator's from the htpasswd file (any
 * repository) or a workspace's pull credential (remote/<that id> only; routes
 * without a repository, the GET /v2/ probe every client starts with, serve
 * nothing of anyone's).
 */
export async function openPullAuth(config: RegistryConfig, logger: Logger): Promise<PullAuth | undefined> {
  if (!config.requireAuth) return undefined;
  if (config.htpasswd === undefined && config.workspaceSecretFile === undefined) {
    throw new Error("registry.requireAuth needs registry.htpasswd or registry.workspaceSecretFile: otherwise nobody could pull");
  }
  const htpasswd = config.htpasswd === undefined ? undefined : await Htpasswd.open(config.htpasswd, logger);
  const secretFile = config.workspaceSecretFile;
  const secrets = secretFile === undefined ? undefined : await ReloadingValue.open({ what: "workspaceSecretFile", paths: [secretFile], load: () => readSecretLines(secretFile), logger });

  const authenticate = async (header: string): Promise<Principal | undefined> => {
    const basic = parseBasic(header);
    if (basic === undefined) return undefined;
    if (secrets !== undefined && isWorkspacePassword(secrets.current, basic.user, basic.password)) return { kind: "workspace", id: basic.user };
    if (htpasswd !== undefined && (await htpasswd.verify(basic.user, basic.password))) return { kind: "operator", user: basic.user };
    return undefined;
  };

  return {
    async middleware(ctx, next) {
      const principal = await authenticate(ctx.get("authorization"));
      if (principal === undefined) {
        throw new RegistryError("UNAUTHORIZED", "authentication required", undefined, undefined, { "WWW-Authenticate": CHALLENGE });
      }
      ctx.state["principal"] = principal;
      await next();
    },
    async repository(name, ctx, next) {
      const principal = ctx.state["principal"] as Principal;
      if (principal.kind === "workspace" && name !== `remote/${principal.id}`) {
        throw new RegistryError("DENIED", "these credentials do not grant access to this repository", { name });
      }
      return next();
    },
    close() {
      htpasswd?.close();
      secrets?.close();
    },
  };
}

function parseBasic(header: string): { user: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon <= 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
