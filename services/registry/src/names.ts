import { isDigest } from "../../shared/digest.ts";
import { RegistryError } from "./errors.ts";

/**
 * The two kinds of repository this registry serves. remote/<id> asks the
 * spec-provider, fixed/<name> the spec file.
 */
export type Repository = { kind: "remote" | "fixed"; key: string; name: string };

/** The distribution grammar of one path component. */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

export function parseRepository(name: string): Repository {
  const parts = name.split("/");
  if (name.length > MAX_NAME_LENGTH || !parts.every((p) => COMPONENT.test(p))) {
    throw new RegistryError("NAME_INVALID", "invalid repository name", { name });
  }
  const [kind, key, ...rest] = parts;
  if ((kind === "remote" || kind === "fixed") && key !== undefined && rest.length === 0) return { kind, key, name };
  throw new RegistryError("NAME_UNKNOWN", "repository name not known to this registry", { name, served: ["remote/<id>", "fixed/<name>"] });
}

export type ManifestReference = { kind: "tag"; tag: string } | { kind: "digest"; digest: string };

export function parseManifestReference(reference: string): ManifestReference {
  if (reference.includes(":")) {
    if (!isDigest(reference)) throw new RegistryError("DIGEST_INVALID", "invalid digest, expected sha256:<64 lowercase hex>", { reference });
    return { kind: "digest", digest: reference };
  }
  if (!TAG.test(reference)) throw new RegistryError("MANIFEST_UNKNOWN", "invalid reference: neither a tag nor a digest", { reference });
  return { kind: "tag", tag: reference };
}

export function parseBlobDigest(digest: string): string {
  if (!isDigest(digest)) throw new RegistryError("DIGEST_INVALID", "invalid digest, expected sha256:<64 lowercase hex>", { digest });
  return digest;
}
