import type { ListSpecsRequest, ListSpecsResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import type { FieldViolation } from "../../../shared/grpc/errors.ts";
import type { UnaryHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import { rejectIfInvalid } from "../validation.ts";
import { workspaceIdProblem } from "../workspace-id.ts";
import { storedSpec } from "./stored-spec.ts";

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/**
 * Pages in id order. The page token is opaque to clients (base64url of the
 * last id served), and a page starts after that id, so specs written or
 * deleted between pages neither shift nor repeat the others.
 */
export function listSpecs(ctx: AppContext): UnaryHandler<ListSpecsRequest, ListSpecsResponse> {
  return async (request) => {
    const violations: FieldViolation[] = [];
    if (request.pageSize < 0) violations.push({ field: "page_size", description: "must not be negative" });
    const after = decodePageToken(request.pageToken);
    if (after === undefined) violations.push({ field: "page_token", description: "not a token this server returned" });
    rejectIfInvalid(violations);

    // Larger requests are served the maximum rather than refused (AIP-158).
    const pageSize = request.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(request.pageSize, MAX_PAGE_SIZE);
    // One more than asked tells whether another page follows.
    const records = await ctx.store.list(after!, pageSize + 1);
    const page = records.slice(0, pageSize);
    const last = page.at(-1);
    return {
      specs: page.map((record) => storedSpec(ctx, record)),
      nextPageToken: records.length > pageSize && last !== undefined ? encodePageToken(last.id) : "",
    };
  };
}

function encodePageToken(lastId: string): string {
  return Buffer.from(lastId, "utf8").toString("base64url");
}

/** The id to continue after: "" for the first page, undefined for a token that is not ours. */
function decodePageToken(token: string): string | undefined {
  if (token === "") return "";
  const id = Buffer.from(token, "base64url").toString("utf8");
  return workspaceIdProblem(id) === undefined && encodePageToken(id) === token ? id : undefined;
}
