import type { SpecManagementServiceServer } from "../../../../gen/facade/manage/v1/manage.ts";
import type { SpecProviderServer } from "../../../../gen/registryfacade/provider.ts";
import { serverStreamHandler, unaryHandler, type ServerStreamHandler, type UnaryHandler } from "../../../shared/grpc/handlers.ts";
import { subsystemLogger } from "../../../shared/logging.ts";
import type { Role } from "../auth.ts";
import type { AppContext } from "../context.ts";
import { deleteSpec } from "./delete-spec.ts";
import { getImageSpec } from "./get-image-spec.ts";
import { getSpec } from "./get-spec.ts";
import { listSpecs } from "./list-specs.ts";
import { putSpec } from "./put-spec.ts";
import { watchSpecs } from "./watch-specs.ts";

/** registryfacade.SpecProvider, the Gitpod-compatible read side. */
export function specProviderService(ctx: AppContext): SpecProviderServer {
  const logger = subsystemLogger(ctx.logger, "rpc.spec-provider");
  return {
    getImageSpec: unaryHandler("GetImageSpec", logger, guarded(ctx, "read", getImageSpec(ctx))),
  };
}

/** facade.manage.v1.SpecManagementService, the workspace manager's API. */
export function specManagementService(ctx: AppContext): SpecManagementServiceServer {
  const logger = subsystemLogger(ctx.logger, "rpc.management");
  return {
    putSpec: unaryHandler("PutSpec", logger, guarded(ctx, "manage", putSpec(ctx))),
    getSpec: unaryHandler("GetSpec", logger, guarded(ctx, "manage", getSpec(ctx))),
    deleteSpec: unaryHandler("DeleteSpec", logger, guarded(ctx, "manage", deleteSpec(ctx))),
    listSpecs: unaryHandler("ListSpecs", logger, guarded(ctx, "manage", listSpecs(ctx))),
    watchSpecs: serverStreamHandler("WatchSpecs", logger, guardedStream(ctx, "manage", watchSpecs(ctx))),
  };
}

/** specProvider.auth before the handler; the wrapper turns a refusal into its status. */
function guarded<Req, Res>(ctx: AppContext, role: Role, handler: UnaryHandler<Req, Res>): UnaryHandler<Req, Res> {
  return async (request, call) => {
    ctx.auth?.check(call, role);
    return handler(request, call);
  };
}

function guardedStream<Req, Res>(ctx: AppContext, role: Role, handler: ServerStreamHandler<Req, Res>): ServerStreamHandler<Req, Res> {
  return async (request, stream, call) => {
    ctx.auth?.check(call, role);
    return handler(request, stream, call);
  };
}
