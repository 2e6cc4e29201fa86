import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parse } from "yaml";

/**
 * The parts of docker-compose.yml that the no-Docker cluster and the
 * consistency test read: services with their image or build, command,
 * ports, bind mounts and environment. Compose's short syntax only, which is
 * all our file uses; anything else is refused rather than misread.
 */
export interface ComposeService {
  name: string;
  image: string | undefined;
  /** Built from the repository's Dockerfile. */
  built: boolean;
  command: string[];
  /** host port → container port. */
  published: Array<{ host: number; container: number }>;
  /** Every port other services can reach: published and exposed. */
  containerPorts: number[];
  /** Bind mounts (source inside the repository) and named volumes. */
  mounts: Array<{ source: string; target: string; bind: boolean }>;
  environment: Record<string, string>;
  healthcheck: string[] | undefined;
}

export const COMPOSE_FILE = "docker-compose.yml";

export async function loadCompose(root: string): Promise<Map<string, ComposeService>> {
  // Merge keys (<<: *anchor) are how the file shares the facade's settings.
  const doc = parse(await readFile(join(root, COMPOSE_FILE), "utf8"), { merge: true }) as { services?: Record<string, Record<string, unknown>> };
  const services = new Map<string, ComposeService>();
  for (const [name, raw] of Object.entries(doc.services ?? {})) services.set(name, normalise(root, name, raw));
  return services;
}

function normalise(root: string, name: string, raw: Record<string, unknown>): ComposeService {
  const published = list(raw["ports"]).map((p) => {
    const match = /^(\d+):(\d+)$/.exec(p);
    if (!match) throw new Error(`${name}: port ${JSON.stringify(p)} is not HOST:CONTAINER`);
    return { host: Number(match[1]), container: Number(match[2]) };
  });
  const exposed = list(raw["expose"]).map(Number);
  const mounts = list(raw["volumes"]).map((v) => {
    const [source = "", target = ""] = v.split(":");
    const bind = source.startsWith(".") || source.startsWith("/");
    return { source: bind ? resolve(root, source) : source, target, bind };
  });
  const healthcheck = (raw["healthcheck"] as { test?: unknown } | undefined)?.test;
  return {
    name,
    image: typeof raw["image"] === "string" ? raw["image"] : undefined,
    built: raw["build"] !== undefined,
    command: list(raw["command"]),
    published,
    containerPorts: [...new Set([...published.map((p) => p.container), ...exposed])],
    mounts,
    environment: Object.fromEntries(Object.entries((raw["environment"] as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [k, String(v)])),
    healthcheck: healthcheck === undefined ? undefined : list(healthcheck),
  };
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`expected a list, got ${JSON.stringify(value)}`);
  return value.map(String);
}

/** A facade service's process: which bin it runs and the configuration file it reads. */
export interface FacadeProcess {
  /** The TypeScript entry, e.g. services/registry/bin.ts (what dist/services/registry/bin.js is built from). */
  source: string;
  kind: "registry" | "spec-provider";
  /** The repository file mounted where --config points. */
  configFile: string;
}

const BIN = /^dist\/(services\/(registry|spec-provider)\/bin)\.js$/;

export function facadeProcess(service: ComposeService): FacadeProcess | undefined {
  if (!service.built) return undefined;
  const [bin, flag, configPath] = service.command;
  const match = BIN.exec(bin ?? "");
  if (!match || flag !== "--config") throw new Error(`${service.name}: command must be dist/services/<service>/bin.js --config FILE`);
  const mount = service.mounts.find((m) => m.bind && m.target === configPath);
  if (!mount) throw new Error(`${service.name}: --config ${configPath} is not a mounted file`);
  return { source: `${match[1]}.ts`, kind: match[2] as FacadeProcess["kind"], configFile: mount.source };
}
