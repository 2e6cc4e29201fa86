/**
 * Image references as container runtimes write them: [host[:port]/]path[:tag][@digest].
 * The grammar is the one of the distribution project's reference package;
 * Docker Hub short names are normalised the way docker and containerd do it
 * (alpine -> docker.io/library/alpine:latest).
 */

export const DOCKER_HUB_DOMAIN = "docker.io";
/** The host Docker Hub's registry API is really served from. */
export const DOCKER_HUB_REGISTRY_HOST = "registry-1.docker.io";

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

export interface ImageRef {
  /** Registry domain as written in references: docker.io, ghcr.io, 127.0.0.1:5000. */
  domain: string;
  /** Repository path inside the registry: library/alpine. */
  path: string;
  tag?: string;
  digest?: string;
}

export class InvalidImageRefError extends Error {
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`invalid image reference ${JSON.stringify(ref)}: ${reason}`);
    this.name = "InvalidImageRefError";
  }
}

/** Parses and normalises a reference; a reference with neither tag nor digest gets tag latest. */
export function parseImageRef(ref: string): ImageRef {
  if (ref.length === 0) throw new InvalidImageRefError(ref, "empty");
  if (/\s/.test(ref)) throw new InvalidImageRefError(ref, "contains white space");

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InvalidImageRefError(ref, "digest must be sha256:<64 lowercase hex>");
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidImageRefError(ref, `invalid tag ${JSON.stringify(tag)}`);
  }

  let domain = DOCKER_HUB_DOMAIN;
  let path = rest;
  const firstSlash = rest.indexOf("/");
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    // Like docker: the first component is a host when it has a dot, a port or is localhost.
    if (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[")) {
      if (!DOMAIN.test(first)) throw new InvalidImageRefError(ref, `invalid registry host ${JSON.stringify(first)}`);
      domain = first;
      path = rest.slice(firstSlash + 1);
    }
  }
  if (domain === "index.docker.io") domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !path.includes("/")) path = `library/${path}`;

  if (path.length === 0) throw new InvalidImageRefError(ref, "missing repository name");
  for (const component of path.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      throw new InvalidImageRefError(ref, `invalid repository path component ${JSON.stringify(component)} (lowercase letters, digits and separators)`);
    }
  }
  if (domain.length + 1 + path.length > MAX_NAME_LENGTH) throw new InvalidImageRefError(ref, `name longer than ${MAX_NAME_LENGTH} characters`);

  if (tag === undefined && digest === undefined) tag = "latest";
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The canonical string form: docker.io/library/alpine:3.20@sha256:... */
export function formatImageRef(ref: ImageRef): string {
  return `${ref.domain}/${ref.path}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** Host the registry API of this domain is served from. */
export function registryHost(ref: ImageRef): string {
  return ref.domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : ref.domain;
}

/** The reference to ask the registry for: the digest when pinned, else the tag. */
export function manifestReference(ref: ImageRef): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/** True for hosts on this machine, which are reached over plain HTTP. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
