import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Logger } from "../../../shared/logging.ts";
import { ReloadingValue } from "../../../shared/reloading.ts";

/** What a registry host's credentials are: a password, or an OAuth2 refresh token (Docker's identitytoken). */
export type Credential = { kind: "password"; username: string; password: string } | { kind: "identityToken"; token: string };

export interface CredentialSource {
  /** The credentials for a registry host[:port], if any are configured. */
  lookup(host: string): Promise<Credential | undefined>;
  close?(): void;
}

export const noCredentials: CredentialSource = { lookup: async () => undefined };

/** A config.json that cannot be used; the message never quotes the file. */
export class DockerConfigError extends Error {
  override name = "DockerConfigError";
}

/** The key Docker uses for Docker Hub, and the host names that mean Docker Hub. */
const DOCKER_HUB_KEY = "https://index.docker.io/v1/";
const DOCKER_HUB_HOSTS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** How long a credential helper's answer is reused: helpers can be slow, and cloud tokens last hours. */
const HELPER_CACHE_MS = 60_000;
const HELPER_TIMEOUT_MS = 10_000;

interface ParsedConfig {
  /** Credentials from auths, by normalised host. */
  auths: Map<string, Credential>;
  /** Helper names from credHelpers, by normalised host; each with the key as written (the helper's server URL). */
  helpers: Map<string, { name: string; serverUrl: string }>;
  credsStore: string | undefined;
}

/**
 * Docker's config.json keys are written many ways: "ghcr.io",
 * "https://ghcr.io", "http://registry:5000/v1/", and Docker Hub as
 * "https://index.docker.io/v1/". All become host[:port], Docker Hub "docker.io".
 */
export function normaliseRegistryKey(key: string): string {
  const host = key
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/.*$/, "")
    .toLowerCase();
  return DOCKER_HUB_HOSTS.has(host) ? "docker.io" : host;
}

export function parseDockerConfig(text: string): ParsedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // The parser's message would quote the text near the error: secrets.
    throw new DockerConfigError("not valid JSON");
  }
  if (!isObject(raw)) throw new DockerConfigError("not a JSON object");
  const auths = new Map<string, Credential>();
  for (const [key, entry] of Object.entries(objectField(raw, "auths"))) {
    if (!isObject(entry)) throw new DockerConfigError(`auths.${key}: not an object`);
    const credential = credentialOf(key, entry);
    if (credential) auths.set(normaliseRegistryKey(key), credential);
  }
  const helpers = new Map<string, { name: string; serverUrl: string }>();
  for (const [key, name] of Object.entries(objectField(raw, "credHelpers"))) {
    if (typeof name !== "string" || !/^[A-Za-z0-9._-]+$/.test(name)) throw new DockerConfigError(`credHelpers.${key}: expected a helper name`);
    helpers.set(normaliseRegistryKey(key), { name, serverUrl: key });
  }
  const credsStore = raw["credsStore"];
  if (credsStore !== undefined && (typeof credsStore !== "string" || !/^[A-Za-z0-9._-]*$/.test(credsStore))) throw new DockerConfigError("credsStore: expected a helper name");
  return { auths, helpers, credsStore: credsStore || undefined };
}

/** An auths entry: identitytoken wins (Docker's order), then auth (base64 user:password), then username/password. */
function credentialOf(key: string, entry: Record<string, unknown>): Credential | undefined {
  const identityToken = entry["identitytoken"];
  if (typeof identityToken === "string" && identityToken !== "") return { kind: "identityToken", token: identityToken };
  const auth = entry["auth"];
  if (typeof auth === "string" && auth !== "") {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new DockerConfigError(`auths.${key}.auth: expected base64 of user:password`);
    return { kind: "password", username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const username = entry["username"];
  const password = entry["password"];
  if (typeof username === "string" && username !== "" && typeof password === "string") return { kind: "password", username, password };
  return undefined;
}

/**
 * Upstream credentials from a Docker config.json (registry.dockerAuth),
 * reloaded when the file changes. Lookup order is Docker's: credHelpers for
 * the host, then credsStore, then the file's auths (also when the store has
 * nothing for the host).
 */
export class DockerConfigCredentials implements CredentialSource {
  private readonly helperAnswers = new Map<string, { at: number; credential: Promise<Credential | undefined> }>();

  private constructor(
    private readonly config: ReloadingValue<ParsedConfig>,
    private readonly logger: Logger,
  ) {}

  static async open(path: string, logger: Logger): Promise<DockerConfigCredentials> {
    const load = async () => parseDockerConfig(await readFile(path, "utf8"));
    let self: DockerConfigCredentials | undefined;
    const config = await ReloadingValue.open({ what: "dockerAuth", paths: [path], load, logger, onReload: () => self?.helperAnswers.clear() });
    self = new DockerConfigCredentials(config, logger);
    return self;
  }

  async lookup(host: string): Promise<Credential | undefined> {
    const key = normaliseRegistryKey(host);
    const config = this.config.current;
    const helper = config.helpers.get(key) ?? (config.credsStore ? { name: config.credsStore, serverUrl: key === "docker.io" ? DOCKER_HUB_KEY : key } : undefined);
    const fromHelper = helper ? await this.askHelper(helper.name, helper.serverUrl) : undefined;
    return fromHelper ?? config.auths.get(key);
  }

  close(): void {
    this.config.close();
  }

  private askHelper(name: string, serverUrl: string): Promise<Credential | undefined> {
    const cacheKey = `${name}\n${serverUrl}`;
    const cached = this.helperAnswers.get(cacheKey);
    if (cached && Date.now() - cached.at < HELPER_CACHE_MS) return cached.credential;
    const credential = runHelper(name, serverUrl).catch((err: unknown) => {
      this.helperAnswers.delete(cacheKey);
      this.logger.warn({ helper: `docker-credential-${name}`, serverUrl, reason: (err as Error).message }, "credential helper failed");
      return undefined;
    });
    this.helperAnswers.set(cacheKey, { at: Date.now(), credential });
    return credential;
  }
}

/**
 * The credential helper protocol: `docker-credential-NAME get`, the server URL
 * on stdin, {"Username","Secret"} on stdout; Username "<token>" means Secret
 * is an identity token. "credentials not found" is an answer, not a failure.
 */
function runHelper(name: string, serverUrl: string): Promise<Credential | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, ["get"], { stdio: ["pipe", "pipe", "pipe"], timeout: HELPER_TIMEOUT_MS });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => stdout.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => {
      const out = Buffer.concat(stdout).toString("utf8");
      if (code !== 0) {
        if (/credentials not found/i.test(out + stderr)) return resolve(undefined);
        // stderr is not quoted back: a helper may echo what it read.
        return reject(new Error(`exited with status ${code}`));
      }
      let answer: unknown;
      try {
        answer = JSON.parse(out);
      } catch {
        return reject(new Error("answer is not JSON"));
      }
      const username = isObject(answer) ? answer["Username"] : undefined;
      const secret = isObject(answer) ? answer["Secret"] : undefined;
      if (typeof username !== "string" || typeof secret !== "string" || secret === "") return reject(new Error("answer lacks Username or Secret"));
      resolve(username === "<token>" ? { kind: "identityToken", token: secret } : { kind: "password", username, password: secret });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(serverUrl);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function objectField(raw: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = raw[name];
  if (value === undefined) return {};
  if (!isObject(value)) throw new DockerConfigError(`${name}: not an object`);
  return value;
}
