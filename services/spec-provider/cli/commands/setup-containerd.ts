import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringOption, UsageError, type Command } from "../command.ts";

/**
 * Points containerd at the registry the way Gitpod's node set-up does: a
 * hosts.toml in containerd's certs.d directory for the registry's host:port,
 * allowing only pull and resolve (a pull-only registry). containerd re-reads
 * the directory on every pull, so no restart is needed; the CRI plugin reads
 * it when `[plugins."io.containerd.grpc.v1.cri".registry] config_path` names it.
 */
export const DEFAULT_CERTS_DIR = "/etc/containerd/certs.d";

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export interface HostsTomlOptions {
  /** host:port exactly as it appears in image references. */
  host: string;
  /** Where containerd really sends requests; defaults to the host itself. */
  endpoint?: string;
  /** With a CA the registry is HTTPS and its certificate must chain to it. */
  withCa: boolean;
}

/** The CA goes next to hosts.toml; containerd resolves a relative path against that directory. */
const CA_FILE = "ca.crt";

export function hostsToml(options: HostsTomlOptions): string {
  const scheme = options.withCa ? "https" : "http";
  const server = `${scheme}://${options.host}`;
  const endpoint = options.endpoint ?? server;
  return [
    `server = ${tomlString(server)}`,
    "",
    `[host.${tomlString(endpoint)}]`,
    '  capabilities = ["pull", "resolve"]',
    // Without a CA the registry speaks plain HTTP, where there is nothing to verify.
    options.withCa ? `  ca = ${tomlString(CA_FILE)}` : "  skip_verify = true",
    "",
  ].join("\n");
}

/** TOML basic strings use JSON's escapes for everything a host or URL can contain. */
const tomlString = (value: string) => JSON.stringify(value);

export const setupContainerd: Command = {
  name: "setup containerd",
  synopsis: "--host HOST:PORT [--endpoint URL] [--ca FILE] [--config-dir DIR] [--dry-run]",
  summary: "write containerd's hosts.toml for pulling through the registry",
  options: {
    host: { type: "string" },
    endpoint: { type: "string" },
    ca: { type: "string" },
    "config-dir": { type: "string", default: DEFAULT_CERTS_DIR },
    "dry-run": { type: "boolean", default: false },
  },
  async run(input) {
    if (input.args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(input.args[0])}`);
    const host = stringOption(input.values, "host");
    if (host === undefined || !HOST_PORT.test(host)) throw new UsageError("--host HOST:PORT is required (the registry as image references name it)");
    const endpoint = stringOption(input.values, "endpoint");
    if (endpoint !== undefined && !/^https?:\/\/[^/\s]+$/.test(endpoint)) throw new UsageError("--endpoint must be http(s)://HOST[:PORT]");
    const ca = stringOption(input.values, "ca");
    // Read before writing anything: a wrong --ca must not leave a half set-up directory.
    const caPem = ca === undefined ? undefined : await readFile(ca);
    const toml = hostsToml({ host, endpoint, withCa: caPem !== undefined });

    const dir = join(String(input.values["config-dir"]), host);
    const path = join(dir, "hosts.toml");
    if (input.values["dry-run"] === true) {
      input.out(input.json ? JSON.stringify({ path, hostsToml: toml }) : toml.trimEnd());
      return;
    }
    await mkdir(dir, { recursive: true });
    if (caPem !== undefined) await writeFile(join(dir, CA_FILE), caPem);
    // containerd reads the file on every pull: replace it whole, never half-written.
    await writeFile(`${path}.tmp`, toml);
    await rename(`${path}.tmp`, path);
    input.out(input.json ? JSON.stringify({ path, hostsToml: toml }) : `wrote ${path}`);
  },
};
