/** One challenge of a WWW-Authenticate header: the scheme and its auth-params. */
export interface Challenge {
  /** Lowercased: "bearer", "basic". */
  scheme: string;
  /** Parameter names lowercased, values unquoted. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SPACE = /[ \t]*/y;

/**
 * Parses a WWW-Authenticate value (RFC 9110 section 11.6.1): one or more
 * challenges, each a scheme and a comma-separated auth-param list. Values may
 * be quoted strings holding commas and escaped quotes (a Docker scope looks
 * like `repository:a/b:pull,push`), so splitting on commas is wrong; a token
 * after a comma starts a new challenge unless an "=" follows it. A token68
 * credential (Negotiate) is skipped, as no scheme this client speaks uses one.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let pos = 0;
  const skipSpace = () => {
    SPACE.lastIndex = pos;
    SPACE.exec(header);
    pos = SPACE.lastIndex;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = pos;
    const match = TOKEN.exec(header);
    if (!match) return undefined;
    pos = TOKEN.lastIndex;
    return match[0];
  };
  const quoted = (): string => {
    let value = "";
    for (pos++; pos < header.length && header[pos] !== '"'; pos++) {
      if (header[pos] === "\\" && pos + 1 < header.length) pos++;
      value += header[pos];
    }
    pos++;
    return value;
  };

  // Unquoted values should be tokens, but servers send bare URLs (realm=https://...): take up to a comma or space.
  const bare = (): string => {
    const end = header.slice(pos).search(/[,\s]/);
    const value = end === -1 ? header.slice(pos) : header.slice(pos, pos + end);
    pos += value.length;
    return value;
  };

  let current: Challenge | undefined;
  // A token directly after a scheme (no comma between) that is not a param is a token68.
  let afterScheme = false;
  while (pos < header.length) {
    skipSpace();
    if (header[pos] === ",") {
      pos++;
      afterScheme = false;
      continue;
    }
    const name = token();
    if (name === undefined) {
      // Not a token where one must be (stray "=" padding, garbage): resynchronise at the next comma.
      const comma = header.indexOf(",", pos + 1);
      pos = comma === -1 ? header.length : comma;
      continue;
    }
    skipSpace();
    if (header[pos] === "=" && current !== undefined) {
      pos++;
      skipSpace();
      current.params[name.toLowerCase()] = header[pos] === '"' ? quoted() : bare();
      afterScheme = false;
    } else if (!afterScheme) {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      afterScheme = true;
    }
  }
  return challenges;
}
