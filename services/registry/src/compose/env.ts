/**
 * Gitpod's environment rules, kept for compatibility with images built for
 * it. An add-on image's config Env entry
 *   GITPOD_ENV_SET_<NAME>=v      sets NAME to v;
 *   GITPOD_ENV_APPEND_<NAME>=v   makes NAME v followed by the old value;
 *   GITPOD_ENV_PREPEND_<NAME>=v  makes NAME the old value followed by v.
 * (APPEND puts v in front and PREPEND behind: Gitpod's naming, not a slip.)
 * When NAME is not set yet, APPEND and PREPEND simply set it. Every other Env
 * entry of an add-on image is ignored: only the base decides the rest.
 */
const RULE = /^GITPOD_ENV_(SET|APPEND|PREPEND)_([^=]+)=(.*)$/s;

/** Applies the rules of addOnEnv to env (a config's Env list); returns a new list. */
export function applyEnvRules(env: readonly string[], addOnEnv: readonly string[]): string[] {
  const result = [...env];
  for (const entry of addOnEnv) {
    const match = RULE.exec(entry);
    if (!match) continue;
    const [, op, name, value] = match as unknown as [string, "SET" | "APPEND" | "PREPEND", string, string];
    const at = result.findIndex((e) => e === name || e.startsWith(`${name}=`));
    const old = at >= 0 ? valueOf(result[at] as string) : undefined;
    const next = old === undefined || op === "SET" ? value : op === "APPEND" ? `${value}${old}` : `${old}${value}`;
    if (at >= 0) result[at] = `${name}=${next}`;
    else result.push(`${name}=${next}`);
  }
  return result;
}

function valueOf(entry: string): string | undefined {
  const eq = entry.indexOf("=");
  return eq < 0 ? undefined : entry.slice(eq + 1);
}
