import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Per-workspace pull credentials: the spec-provider hands them out with
 * PutSpec, the registry accepts them for remote/<id> only. Username is the
 * workspace id, password an HMAC of the id under a secret both services read
 * from a file (workspaceSecretFile), so the registry checks a credential
 * without asking anyone and without storing one per workspace. A credential
 * lives as long as the secret: rotating the secret revokes them all.
 */
export interface PullCredential {
  username: string;
  password: string;
}

/** Domain separation: the same secret used for anything else never yields a pull password. */
const CONTEXT = "registry-facade workspace pull credential v1\0";

export function workspaceCredential(secret: string, id: string): PullCredential {
  return { username: id, password: createHmac("sha256", secret).update(CONTEXT).update(id).digest("base64url") };
}

/** True when password is the credential of workspace id under any of the secrets (all are tried, for rotation). */
export function isWorkspacePassword(secrets: readonly string[], id: string, password: string): boolean {
  const given = Buffer.from(password);
  let valid = false;
  for (const secret of secrets) {
    const expected = Buffer.from(workspaceCredential(secret, id).password);
    // Length first: timingSafeEqual throws on different lengths; the length of an HMAC is no secret.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}
