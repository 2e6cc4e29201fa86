/** A byte range, both ends inclusive, as in Content-Range. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeRequest = { kind: "none" } | { kind: "ranges"; ranges: ByteRange[] } | { kind: "unsatisfiable" };

/** At most this many ranges per request; more is a denial-of-service pattern, not a client. */
const MAX_RANGES = 16;

/**
 * Parses a Range header against a representation of `size` bytes (RFC 9110
 * 14.2). A header that is not a valid bytes range set is ignored, as the RFC
 * asks; a valid set with no satisfiable range is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: "none" };
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match?.[1]) return { kind: "none" };
  const ranges: ByteRange[] = [];
  const specs = match[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: "none" };
  for (const spec of specs) {
    const m = /^(\d*)-(\d*)$/.exec(spec);
    if (!m || (m[1] === "" && m[2] === "")) return { kind: "none" };
    if (m[1] === "") {
      // Suffix range: the last N bytes.
      const suffix = Number(m[2]);
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(m[1]);
    const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return { kind: "none" };
    if (start < size) ranges.push({ start, end });
  }
  return ranges.length === 0 ? { kind: "unsatisfiable" } : { kind: "ranges", ranges };
}
