import type { PutSpecRequest, PutSpecResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import type { UnaryHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import { idViolations, rejectIfInvalid, specViolations } from "../validation.ts";
import { storedSpec } from "./stored-spec.ts";

export function putSpec(ctx: AppContext): UnaryHandler<PutSpecRequest, PutSpecResponse> {
  return async (request) => {
    rejectIfInvalid([...idViolations(request.id), ...(await specViolations(request.spec, ctx.config.maxDirectContentBytes))]);
    const record = await ctx.store.put(request.id, request.spec!, request.expectedRevision);
    await ctx.announce({ type: "spec.put", id: record.id, revision: String(record.revision) });
    return { stored: storedSpec(ctx, record), pullCredential: ctx.pullCredential(record.id) };
  };
}
