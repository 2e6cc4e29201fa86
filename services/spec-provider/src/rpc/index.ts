import type { SpecManagementServiceServer } from "../../../../gen/facade/manage/v1/manage.ts";
import type { SpecProviderServer } from "../../../../gen/registryfacade/provider.ts";
import { serverStreamHandler, unaryHandler } from "../../../shared/grpc/handlers.ts";
import { subsystemLogger } from "../../../shared/logging.ts";
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
    getImageSpec: unaryHandler("GetImageSpec", logger, getImageSpec(ctx)),
  };
}

/** facade.manage.v1.SpecManagementService, the workspace manager's API. */
export function specManagementService(ctx: AppContext): SpecManagementServiceServer {
  const logger = subsystemLogger(ctx.logger, "rpc.management");
  return {
    putSpec: unaryHandler("PutSpec", logger, putSpec(ctx)),
    getSpec: unaryHandler("GetSpec", logger, getSpec(ctx)),
    deleteSpec: unaryHandler("DeleteSpec", logger, deleteSpec(ctx)),
    listSpecs: unaryHandler("ListSpecs", logger, listSpecs(ctx)),
    watchSpecs: serverStreamHandler("WatchSpecs", logger, watchSpecs(ctx)),
  };
}
