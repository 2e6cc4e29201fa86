import type { GetImageSpecRequest, GetImageSpecResponse } from "../../../../gen/registryfacade/provider.ts";
import type { UnaryHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import { idViolations, rejectIfInvalid } from "../validation.ts";

/** The Gitpod-compatible read the registry makes on every pull of remote/<id>. */
export function getImageSpec(ctx: AppContext): UnaryHandler<GetImageSpecRequest, GetImageSpecResponse> {
  return async (request) => {
    rejectIfInvalid(idViolations(request.id));
    return { spec: (await ctx.store.get(request.id)).spec };
  };
}
