import { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import type { StoredRecord } from "./types.ts";

/**
 * A record as the file store writes it: the spec in protobuf's JSON mapping
 * (bytes as base64, int64 as strings), so a file can be read and repaired by
 * hand and never loses precision.
 */
export function recordToJson(record: StoredRecord): string {
  return JSON.stringify({
    id: record.id,
    revision: record.revision.toString(),
    updateTime: record.updateTime.toISOString(),
    spec: ImageSpec.toJSON(record.spec),
  });
}

export function recordFromJson(text: string, source: string): StoredRecord {
  const raw = JSON.parse(text) as { id?: unknown; revision?: unknown; updateTime?: unknown; spec?: unknown };
  if (typeof raw.id !== "string" || typeof raw.revision !== "string" || typeof raw.updateTime !== "string" || typeof raw.spec !== "object") {
    throw new Error(`${source}: not a stored spec`);
  }
  return { id: raw.id, revision: BigInt(raw.revision), updateTime: new Date(raw.updateTime), spec: ImageSpec.fromJSON(raw.spec) };
}
