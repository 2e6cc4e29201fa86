import type { GetSpecRequest, GetSpecResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import type { UnaryHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import { idViolations, rejectIfInvalid } from "../validation.ts";
import { storedSpec } from "./stored-spec.ts";

export function getSpec(ctx: AppContext): UnaryHandler<GetSpecRequest, GetSpecResponse> {
  return async (request) => {
    rejectIfInvalid(idViolations(request.id));
    return { stored: storedSpec(ctx, await ctx.store.get(request.id)) };
  };
}
