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

/** /<name>/manifests/<ref> or /<name>/blobs/<digest>; the name is greedy, as in the router. */
const REPOSITORY_PATH = /^\/(.+)\/(?:manifests|blobs)\/[^/]+$/;

export interface PullAuth {
  /** Koa middleware: 401 without valid credentials, 403 for a repository they do not cover. */
  readonly middleware: (ctx: Context, next: Next) => Promise<void>;
  close(): void;
}

/**
 * registry.requireAuth: every request under /v2 must carry Basic credentials
 * that really check out, either an operator's from the htpasswd file (any
 * repository) or a workspace's pull credential (remote/<that id> only, and
 * the GET /v2/ probe every client starts with).
 */
export async function openPullAuth(config: RegistryConfig, logger: Logger): Promise<PullAuth | undefined> {
  if (!config.requireAuth) return undefined;
  if (config.htpasswd === undefined && config.workspaceSecretFile === undefined) {
    throw new Error("registry.requireAuth needs registry.htpasswd or registry.workspaceSecretFile: otherwise nobody could pull");
  }
  const htpasswd = config.htpasswd === undefined ? undefined : await Htpasswd.open(config.htpasswd, logger);
  const secretFile = config.workspaceSecretFile;
  const secrets = secretFile === undefined ? undefined : await ReloadingValue.open({ what: "workspaceSecretFile", paths: [secretFile], load: () => readSecretLines(secretFile), logger });
  const v2 = `${config.prefix}/v2`;

  const authenticate = async (header: string): Promise<Principal | undefined> => {
    const basic = parseBasic(header);
    if (basic === undefined) return undefined;
    if (secrets !== undefined && isWorkspacePassword(secrets.current, basic.user, basic.password)) return { kind: "workspace", id: basic.user };
    if (htpasswd !== undefined && (await htpasswd.verify(basic.user, basic.password))) return { kind: "operator", user: basic.user };
    return undefined;
  };

  return {
    async middleware(ctx, next) {
      if (ctx.path !== v2 && !ctx.path.startsWith(`${v2}/`)) return next();
      const principal = await authenticate(ctx.get("authorization"));
      if (principal === undefined) {
        throw new RegistryError("UNAUTHORIZED", "authentication required", undefined, undefined, { "WWW-Authenticate": CHALLENGE });
      }
      const rest = ctx.path.slice(v2.length);
      if (principal.kind === "workspace" && rest !== "/" && rest !== "" && REPOSITORY_PATH.exec(rest)?.[1] !== `remote/${principal.id}`) {
        throw new RegistryError("DENIED", "these credentials do not grant access to this repository", { path: ctx.path });
      }
      await next();
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
