import { SpecEvent_Kind, type SpecEvent, type WatchSpecsRequest, type WatchSpecsResponse } from "../../../../gen/facade/manage/v1/manage.ts";
import { UnavailableError } from "../../../shared/grpc/errors.ts";
import type { ServerStreamHandler } from "../../../shared/grpc/handlers.ts";
import type { AppContext } from "../context.ts";
import type { StoreEvent } from "../store/index.ts";
import { storedSpec } from "./stored-spec.ts";

/**
 * Streams store changes until the client cancels. On shutdown the stream
 * ends with UNAVAILABLE, the code that tells a watcher to reconnect (to
 * another replica, or to this one after its restart).
 */
export function watchSpecs(ctx: AppContext): ServerStreamHandler<WatchSpecsRequest, WatchSpecsResponse> {
  return async (request, stream) => {
    const signal = AbortSignal.any([stream.signal, ctx.shutdown]);
    for await (const event of ctx.store.watch({ includeInitial: request.includeInitial, signal })) {
      await stream.send({ event: specEvent(ctx, event) });
    }
    if (ctx.shutdown.aborted) throw new UnavailableError("spec-provider is shutting down");
  };
}

function specEvent(ctx: AppContext, event: StoreEvent): SpecEvent {
  switch (event.kind) {
    case "put":
      return { kind: SpecEvent_Kind.KIND_PUT, id: event.record.id, revision: event.record.revision, stored: storedSpec(ctx, event.record) };
    case "delete":
      return { kind: SpecEvent_Kind.KIND_DELETE, id: event.id, revision: event.revision };
    case "synced":
      return { kind: SpecEvent_Kind.KIND_SYNCED, id: "", revision: 0n };
  }
}
