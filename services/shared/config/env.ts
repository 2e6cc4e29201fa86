/**
 * Environment variables that override the usual deployment knobs of the
 * configuration file (a container image with one mounted file, a port or a
 * log level changed per node). They are applied to the parsed file before
 * validation, so a bad value is reported like a bad key, with the variable
 * named. Lists are comma-separated.
 */
export const ENV_OVERRIDES = {
  REGISTRY_FACADE_LOG_LEVEL: { path: ["logLevel"], kind: "string" },
  REGISTRY_FACADE_REGISTRY_HOST: { path: ["registry", "host"], kind: "string" },
  REGISTRY_FACADE_REGISTRY_PORT: { path: ["registry", "port"], kind: "number" },
  REGISTRY_FACADE_REGISTRY_STORE: { path: ["registry", "store"], kind: "string" },
  REGISTRY_FACADE_REGISTRY_SPEC_PROVIDERS: { path: ["registry", "remoteSpecProvider"], kind: "addresses" },
  REGISTRY_FACADE_SPEC_PROVIDER_HOST: { path: ["specProvider", "host"], kind: "string" },
  REGISTRY_FACADE_SPEC_PROVIDER_PORT: { path: ["specProvider", "port"], kind: "number" },
  REGISTRY_FACADE_SPEC_PROVIDER_IMAGE_REF_HOST: { path: ["specProvider", "imageRefHost"], kind: "string" },
  REGISTRY_FACADE_NATS_SERVERS: { path: ["nats", "servers"], kind: "list" },
  REGISTRY_FACADE_PROMETHEUS_ADDR: { path: ["prometheusAddr"], kind: "string" },
  REGISTRY_FACADE_READINESS_PROBE_ADDR: { path: ["readinessProbeAddr"], kind: "string" },
  REGISTRY_FACADE_SHUTDOWN_GRACE_MS: { path: ["shutdownGraceMs"], kind: "number" },
} as const satisfies Record<string, { path: readonly string[]; kind: "string" | "number" | "list" | "addresses" }>;

type EnvName = keyof typeof ENV_OVERRIDES;

/**
 * The file's object with every override that is set applied; also which
 * configuration path each variable set, so errors can name the variable.
 * Anything but an object is returned as is (validation will refuse it).
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): { raw: unknown; applied: Map<string, EnvName> } {
  const applied = new Map<string, EnvName>();
  if (!isObject(raw)) return { raw, applied };
  const root: Record<string, unknown> = structuredClone(raw);
  for (const [name, { path, kind }] of Object.entries(ENV_OVERRIDES) as Array<[EnvName, (typeof ENV_OVERRIDES)[EnvName]]>) {
    const text = env[name];
    if (text === undefined || text === "") continue;
    let node = root;
    for (const key of path.slice(0, -1)) {
      const child = node[key];
      node = node[key] = isObject(child) ? child : {};
    }
    node[path[path.length - 1] as string] = convert(text, kind);
    applied.set(path.join("."), name);
  }
  return { raw: root, applied };
}

function convert(text: string, kind: "string" | "number" | "list" | "addresses"): unknown {
  const items = () => text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  switch (kind) {
    case "string":
      return text;
    // Not a number stays a string, so validation says what was expected.
    case "number":
      return /^-?\d+$/.test(text.trim()) ? Number(text) : text;
    case "list":
      return items();
    case "addresses":
      return items().map((addr) => ({ addr }));
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
