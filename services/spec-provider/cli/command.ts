import { readFile } from "node:fs/promises";
import type { ParseArgsConfig } from "node:util";
import { credentials, type ChannelCredentials, type ClientOptions } from "@grpc/grpc-js";
import { bearerToken } from "../../shared/grpc/client.ts";
import { SpecManagementServiceClient } from "../../../gen/facade/manage/v1/manage.ts";

/**
 * What every facadectl subcommand is: a name (possibly several words, as in
 * "setup containerd"), its options on top of the global ones, and run().
 * Adding a subcommand is one file in commands/ and one line in
 * commands/index.ts.
 */
export interface Command {
  /** The words that select it: "put", or "setup containerd". */
  readonly name: string;
  /** Argument synopsis after the name, for usage lines. */
  readonly synopsis: string;
  readonly summary: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  run(input: CommandInput): Promise<void>;
}

export type OptionValue = string | boolean | Array<string | boolean> | undefined;
export type OptionToken = { name: string; value: string | undefined };

export interface CommandInput {
  /** Positional arguments after the command's name. */
  readonly args: string[];
  readonly values: Readonly<Record<string, OptionValue>>;
  /** Options in command-line order, for options whose order matters (content layers). */
  readonly tokens: readonly OptionToken[];
  readonly json: boolean;
  /** Aborted on SIGINT/SIGTERM; long-running commands (watch) stop cleanly. */
  readonly signal: AbortSignal;
  out(line: string): void;
  /** A management client for --addr, with the TLS options applied. */
  client(): Promise<SpecManagementServiceClient>;
  /** Deadline for one call, from --timeout. */
  deadline(): Date;
}

/** Wrong arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export const GLOBAL_OPTIONS = {
  addr: { type: "string", default: "127.0.0.1:32224" },
  json: { type: "boolean", default: false },
  timeout: { type: "string", default: "10" },
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies NonNullable<ParseArgsConfig["options"]>;

export const GLOBAL_USAGE = `global options:
  --addr HOST:PORT     spec-provider address (default 127.0.0.1:32224)
  --json               machine-readable output (protobuf JSON; watch: one event per line)
  --timeout SECONDS    deadline of each call (default 10)
  --tls-ca FILE        use TLS, trusting this CA; with --tls-cert/--tls-key for mutual TLS
  --token TOKEN        bearer token for a spec-provider with auth (default: $FACADECTL_TOKEN;
                       the variable keeps it out of the process list)
  -h, --help           show help`;

export function stringOption(values: CommandInput["values"], name: string): string | undefined {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
}

export function stringList(values: CommandInput["values"], name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** A non-negative integer option as bigint (revisions, sizes are uint64/int64). */
export function bigintOption(name: string, value: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Client options: a bearer token from --token or FACADECTL_TOKEN goes with every call. */
export function clientOptions(values: CommandInput["values"]): ClientOptions {
  const token = stringOption(values, "token") ?? (process.env["FACADECTL_TOKEN"] || undefined);
  return token === undefined ? {} : { interceptors: [bearerToken(token)] };
}

export async function channelCredentials(values: CommandInput["values"]): Promise<ChannelCredentials> {
  const ca = stringOption(values, "tls-ca");
  const cert = stringOption(values, "tls-cert");
  const key = stringOption(values, "tls-key");
  if (ca === undefined) {
    if (cert !== undefined || key !== undefined) throw new UsageError("--tls-cert and --tls-key need --tls-ca");
    return credentials.createInsecure();
  }
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const [caPem, certPem, keyPem] = await Promise.all([readFile(ca), cert && readFile(cert), key && readFile(key)]);
  return credentials.createSsl(caPem, keyPem || null, certPem || null);
}
