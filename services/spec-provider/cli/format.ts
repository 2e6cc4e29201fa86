import { PullCredential, SpecEvent, SpecEvent_Kind, StoredSpec } from "../../../gen/facade/manage/v1/manage.ts";
import type { ContentLayer } from "../../../gen/registryfacade/provider.ts";

/** Human-readable output; --json output is the protobuf JSON mapping of the same messages. */

export function storedSpecJson(stored: StoredSpec): unknown {
  return StoredSpec.toJSON(stored);
}

/** put's JSON: the stored spec, plus pullCredential when the spec-provider hands one out. */
export function putJson(stored: StoredSpec, credential: PullCredential | undefined): unknown {
  return { ...(storedSpecJson(stored) as object), ...(credential ? { pullCredential: PullCredential.toJSON(credential) } : {}) };
}

export function describePut(stored: StoredSpec, credential: PullCredential | undefined): string {
  const lines = [describeStoredSpec(stored)];
  if (credential) lines.push(`${"pull user".padEnd(12)}${credential.username}`, `${"pull pass".padEnd(12)}${credential.password}`);
  return lines.join("\n");
}

export function eventJson(event: SpecEvent): unknown {
  return SpecEvent.toJSON(event);
}

export function describeStoredSpec(stored: StoredSpec): string {
  const spec = stored.spec;
  const lines: Array<[string, string]> = [
    ["id", stored.id],
    ["revision", stored.revision.toString()],
    ["updated", stored.updateTime?.toISOString() ?? "-"],
    ["image", stored.imageRef],
    ["base", spec?.baseRef || "-"],
    ["ide", spec?.ideRef || "-"],
    ["supervisor", spec?.supervisorRef || "-"],
  ];
  spec?.ideLayerRef.forEach((ref, i) => lines.push([i === 0 ? "ide layers" : "", ref]));
  spec?.contentLayer.forEach((layer, i) => lines.push([i === 0 ? "content" : "", `[${i}] ${describeLayer(layer)}`]));
  return lines.map(([label, value]) => `${label.padEnd(12)}${value}`).join("\n");
}

function describeLayer(layer: ContentLayer): string {
  switch (layer.spec?.$case) {
    case "remote": {
      const { url, digest, mediaType, size } = layer.spec.value;
      return `remote ${url} ${digest} ${mediaType} ${size} bytes`;
    }
    case "direct":
      return `direct tar, ${layer.spec.value.content.length} bytes`;
    case undefined:
      return "(empty)";
  }
}

export function describeTable(specs: StoredSpec[]): string {
  const rows = [["ID", "REVISION", "UPDATED", "BASE"], ...specs.map((s) => [s.id, s.revision.toString(), s.updateTime?.toISOString() ?? "-", s.spec?.baseRef ?? "-"])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]! + 2))).join("")).join("\n");
}

export function describeEvent(event: SpecEvent): string {
  switch (event.kind) {
    case SpecEvent_Kind.KIND_PUT:
      return `PUT ${event.id} revision ${event.revision} base ${event.stored?.spec?.baseRef ?? "-"}`;
    case SpecEvent_Kind.KIND_DELETE:
      return `DELETE ${event.id} revision ${event.revision}`;
    case SpecEvent_Kind.KIND_SYNCED:
      return "SYNCED (changes follow)";
    default:
      return `${event.kind} ${event.id} revision ${event.revision}`;
  }
}
