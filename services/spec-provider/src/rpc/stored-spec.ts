import type { StoredSpec } from "../../../../gen/facade/manage/v1/manage.ts";
import type { AppContext } from "../context.ts";
import type { StoredRecord } from "../store/index.ts";

/** A store record as the management API shows it, with the reference to pull. */
export function storedSpec(ctx: AppContext, record: StoredRecord): StoredSpec {
  return { id: record.id, spec: record.spec, revision: record.revision, updateTime: record.updateTime, imageRef: ctx.imageRefFor(record.id) };
}
