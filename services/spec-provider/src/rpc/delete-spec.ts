import type { DeleteSpecRequest, DeleteSpecResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import type { UnaryHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import { idViolations, rejectIfInvalid } from "../validation.ts";

export function deleteSpec(ctx: AppContext): UnaryHandler<DeleteSpecRequest, DeleteSpecResponse> {
  return async (request) => {
    const violations = idViolations(request.id);
    // 0 means "must not exist" for PutSpec; for a delete it could never hold.
    if (request.expectedRevision === 0n) violations.push({ field: "expected_revision", description: "must be absent or a revision greater than 0" });
    rejectIfInvalid(violations);
    const revision = await ctx.store.delete(request.id, request.expectedRevision);
    await ctx.announce({ type: "spec.delete", id: request.id, revision: String(revision) });
    return { revision };
  };
}
