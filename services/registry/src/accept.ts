/**
 * The manifest media types a client's Accept header admits. No header (or a
 * wildcard) admits everything; a type with q=0 is refused.
 */
export type Accepted = "any" | ReadonlySet<string>;

export function parseAccept(header: string | undefined): Accepted {
  if (header === undefined || header.trim() === "") return "any";
  const types = new Set<string>();
  for (const part of header.split(",")) {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (type === "" || params.some((p) => /^q=0(\.0{0,3})?$/.test(p))) continue;
    if (type === "*/*" || type === "application/*") return "any";
    types.add(type);
  }
  return types;
}

export function accepts(accepted: Accepted, mediaType: string): boolean {
  return accepted === "any" || accepted.has(mediaType);
}
