import { createHash, timingSafeEqual } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import type { ServerUnaryCall } from "@grpc/grpc-js";
import type { SpecProviderConfig } from "../../shared/config/schema.ts";
import { PermissionDeniedError, UnauthenticatedError } from "../../shared/grpc/errors.ts";
import type { Logger } from "../../shared/logging.ts";
import { ReloadingValue } from "../../shared/reloading.ts";
import { readSecretLines } from "../../shared/secret-file.ts";

/** What a check needs of a call, unary or streaming. */
type Call = Pick<ServerUnaryCall<unknown, unknown>, "metadata" | "getAuthContext">;

/** manage: SpecManagementService; read: GetImageSpec. Managers may read too. */
export type Role = "manage" | "read";

interface Access {
  tokens: ReloadingValue<string[]> | undefined;
  clientNames: ReadonlySet<string>;
}

/**
 * specProvider.auth: who may call what. A call proves who it is with a
 * bearer token in its `authorization` metadata or with the client
 * certificate of a mutual-TLS connection (its subject CN or a DNS/URI
 * subjectAltName). No or an unknown token → UNAUTHENTICATED; a known caller
 * without the role (the registry's certificate or read token on PutSpec) →
 * PERMISSION_DENIED.
 */
export class CallAuthorizer {
  private constructor(
    private readonly manage: Access,
    private readonly read: Access | undefined,
  ) {}

  static async open(config: SpecProviderConfig, logger: Logger): Promise<CallAuthorizer | undefined> {
    const auth = config.auth;
    if (auth === undefined) return undefined;
    const usesCertificates = (auth.manage.clientNames?.length ?? 0) > 0 || (auth.read?.clientNames?.length ?? 0) > 0;
    if (usesCertificates && config.tls?.ca === undefined) {
      throw new Error("specProvider.auth clientNames need specProvider.tls.ca: without mutual TLS no client presents a certificate");
    }
    const access = async (role: Role, a: NonNullable<typeof auth.read>): Promise<Access> => {
      const file = a.tokenFile;
      const tokens = file === undefined ? undefined : await ReloadingValue.open({ what: `specProvider.auth.${role}.tokenFile`, paths: [file], load: () => readSecretLines(file), logger });
      return { tokens, clientNames: new Set(a.clientNames ?? []) };
    };
    return new CallAuthorizer(await access("manage", auth.manage), auth.read === undefined ? undefined : await access("read", auth.read));
  }

  /** Throws unless the call may act in this role. */
  check(call: Call, role: Role): void {
    if (role === "read" && this.read === undefined) return;
    const granted = role === "manage" ? [this.manage] : [this.manage, this.read!];
    const token = bearerToken(call);
    if (token !== undefined) {
      if (granted.some((a) => hasToken(a, token))) return;
      if (this.read !== undefined && hasToken(this.read, token)) throw new PermissionDeniedError("this token may only read image specs");
      throw new UnauthenticatedError("the bearer token is not valid");
    }
    const names = certificateNames(call.getAuthContext().sslPeerCertificate);
    if (names.length > 0) {
      if (granted.some((a) => names.some((n) => a.clientNames.has(n)))) return;
      throw new PermissionDeniedError(`client certificate ${names[0]} may not ${role === "manage" ? "manage specs" : "read image specs"}`);
    }
    throw new UnauthenticatedError("authentication required: a bearer token or a client certificate");
  }

  close(): void {
    this.manage.tokens?.close();
    this.read?.tokens?.close();
  }
}

function bearerToken(call: Call): string | undefined {
  const value = call.metadata.get("authorization")[0];
  if (typeof value !== "string") return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  // A malformed header is a wrong token, not an absent one.
  return match ? match[1]! : value;
}

/** Compared as digests: equal lengths for timingSafeEqual, and no early exit revealing a prefix. */
function hasToken(access: Access, token: string): boolean {
  const given = createHash("sha256").update(token).digest();
  let found = false;
  for (const t of access.tokens?.current ?? []) if (timingSafeEqual(createHash("sha256").update(t).digest(), given)) found = true;
  return found;
}

function certificateNames(cert: PeerCertificate | undefined): string[] {
  if (cert === undefined || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  for (const entry of (cert.subjectaltname ?? "").split(",")) {
    const match = /^\s*(DNS|URI):(.+)$/.exec(entry);
    if (match) names.push(match[2]!.trim());
  }
  return names;
}
