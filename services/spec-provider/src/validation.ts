import tar from "tar-stream";
import type { ImageSpec, RemoteContentLayer } from "../../../gen/registryfacade/provider.ts";
import { isDigest } from "../../shared/digest.ts";
import { InvalidArgumentError, type FieldViolation } from "../../shared/grpc/errors.ts";
import { parseImageRef } from "../../shared/image-ref.ts";
import { LAYER_MEDIA_TYPES } from "../../shared/media-types.ts";
import { workspaceIdProblem } from "./workspace-id.ts";

/**
 * Request validation. Every problem is collected, not just the first, and
 * named by its proto field path (spec.content_layer[1].remote.digest) so a
 * caller can fix a request in one go. References are checked by parsing but
 * stored as the client wrote them: the registry normalises when it resolves,
 * and what GetImageSpec returns is exactly what the workspace manager sent.
 */

/** Throws InvalidArgumentError when there is any violation. */
export function rejectIfInvalid(violations: FieldViolation[]): void {
  if (violations.length > 0) throw new InvalidArgumentError(violations);
}

export function idViolations(id: string, field = "id"): FieldViolation[] {
  const problem = workspaceIdProblem(id);
  return problem === undefined ? [] : [{ field, description: problem }];
}

export async function specViolations(spec: ImageSpec | undefined, maxDirectContentBytes: number, field = "spec"): Promise<FieldViolation[]> {
  if (spec === undefined) return [{ field, description: "required" }];
  const violations: FieldViolation[] = [];
  const ref = (path: string, value: string, required: boolean) => {
    if (value === "") {
      if (required) violations.push({ field: path, description: "required" });
      return;
    }
    try {
      parseImageRef(value);
    } catch (err) {
      violations.push({ field: path, description: (err as Error).message });
    }
  };
  ref(`${field}.base_ref`, spec.baseRef, true);
  ref(`${field}.ide_ref`, spec.ideRef, false);
  ref(`${field}.supervisor_ref`, spec.supervisorRef, false);
  spec.ideLayerRef.forEach((value, i) => ref(`${field}.ide_layer_ref[${i}]`, value, true));

  for (const [i, layer] of spec.contentLayer.entries()) {
    const path = `${field}.content_layer[${i}]`;
    switch (layer.spec?.$case) {
      case "remote":
        violations.push(...remoteLayerViolations(layer.spec.value, `${path}.remote`));
        break;
      case "direct": {
        const problem = await directContentProblem(layer.spec.value.content, maxDirectContentBytes);
        if (problem !== undefined) violations.push({ field: `${path}.direct.content`, description: problem });
        break;
      }
      case undefined:
        violations.push({ field: path, description: "one of remote or direct is required" });
    }
  }
  return violations;
}

function remoteLayerViolations(layer: RemoteContentLayer, path: string): FieldViolation[] {
  const violations: FieldViolation[] = [];
  const add = (field: string, description: string) => violations.push({ field: `${path}.${field}`, description });

  const urlProblem = httpUrlProblem(layer.url);
  if (urlProblem !== undefined) add("url", urlProblem);
  if (!isDigest(layer.digest)) add("digest", layer.digest === "" ? "required" : "must be sha256:<64 lowercase hex>");
  if (layer.diffId !== "" && !isDigest(layer.diffId)) add("diff_id", "must be empty or sha256:<64 lowercase hex>");
  if (layer.mediaType === "") add("media_type", "required");
  else if (!LAYER_MEDIA_TYPES.has(layer.mediaType)) add("media_type", `not a layer media type: ${layer.mediaType}`);
  // A diff id that is empty or the digest itself says "uncompressed"; a
  // compressed media type then cannot be right, and the image config the
  // registry builds from it would not match the layer.
  else if (isCompressed(layer.mediaType) && (layer.diffId === "" || layer.diffId === layer.digest)) {
    add("diff_id", `a compressed layer (${layer.mediaType}) needs the digest of its uncompressed tar`);
  } else if (!isCompressed(layer.mediaType) && layer.diffId !== "" && layer.diffId !== layer.digest) {
    add("diff_id", `an uncompressed layer (${layer.mediaType}) has its digest as diff id`);
  }
  if (layer.size <= 0n) add("size", "must be the blob size in bytes, greater than 0");
  return violations;
}

function isCompressed(mediaType: string): boolean {
  return /(?:\+gzip|\+zstd|\.gzip)$/.test(mediaType);
}

function httpUrlProblem(value: string): string | undefined {
  if (value === "") return "required";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must be http or https, not ${url.protocol.slice(0, -1)}`;
  return undefined;
}

/** A direct layer is served as it is, so it has to be a complete uncompressed tar. */
async function directContentProblem(content: Uint8Array, maxBytes: number): Promise<string | undefined> {
  if (content.length === 0) return "required: an uncompressed tar";
  if (content.length > maxBytes) return `${content.length} bytes; at most ${maxBytes} (maxDirectContentBytes)`;
  if (content[0] === 0x1f && content[1] === 0x8b) return "gzip data; must be an uncompressed tar";
  return tarProblem(content);
}

function tarProblem(content: Uint8Array): Promise<string | undefined> {
  return new Promise((resolve) => {
    const extract = tar.extract();
    extract.on("entry", (_header, stream, next) => {
      stream.on("end", next);
      stream.resume();
    });
    extract.on("finish", () => resolve(undefined));
    extract.on("error", (err: Error) => resolve(`not a valid tar: ${err.message}`));
    extract.end(content);
  });
}
