import { parseArgs } from "node:util";
import type { ServiceError } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../../../gen/facade/manage/v1/manage.ts";
import { decodeServiceError, isServiceError } from "../../shared/grpc/status.ts";
import { channelCredentials, clientOptions, GLOBAL_OPTIONS, GLOBAL_USAGE, UsageError, type Command, type OptionToken } from "./command.ts";
import { COMMANDS } from "./commands/index.ts";

/**
 * facadectl: the operator's and developer's client of the spec-provider.
 * Exit status 0 on success, 1 when the call fails (the gRPC code and every
 * field violation go to stderr), 2 for wrong usage, 130 when interrupted
 * (except watch, for which an interrupt is the normal end).
 */
export async function main(argv: string[]): Promise<number> {
  const command = findCommand(argv);
  if (command === undefined) {
    const wantsHelp = argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h";
    (wantsHelp ? process.stdout : process.stderr).write(`${wantsHelp ? "" : `facadectl: unknown command ${JSON.stringify(argv[0])}\n`}${overview()}\n`);
    return wantsHelp ? 0 : 2;
  }

  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let client: SpecManagementServiceClient | undefined;
  try {
    const parsed = parse(command, argv.slice(command.name.split(" ").length));
    if (parsed.values.help === true) {
      process.stdout.write(`${commandUsage(command)}\n${GLOBAL_USAGE}\n`);
      return 0;
    }
    const timeoutSeconds = Number(parsed.values.timeout);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number of seconds");
    await command.run({
      ...parsed,
      json: parsed.values.json === true,
      signal: interrupt.signal,
      out: (line) => process.stdout.write(`${line}\n`),
      client: async () => (client ??= new SpecManagementServiceClient(String(parsed.values.addr), await channelCredentials(parsed.values), clientOptions(parsed.values))),
      deadline: () => new Date(Date.now() + timeoutSeconds * 1000),
    });
    return 0;
  } catch (err) {
    // Interrupted (Ctrl-C): the shell's convention, and nothing to explain.
    if (interrupt.signal.aborted) return 130;
    process.stderr.write(`${describeFailure(command, err)}\n`);
    return err instanceof UsageError || isParseArgsError(err) ? 2 : 1;
  } finally {
    client?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The command whose (possibly multi-word) name the arguments start with. */
function findCommand(argv: string[]): Command | undefined {
  return COMMANDS.find((command) => command.name.split(" ").every((word, i) => argv[i] === word));
}

function parse(command: Command, args: string[]) {
  const { values, positionals, tokens } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true, tokens: true });
  const options: OptionToken[] = tokens.flatMap((token) => (token.kind === "option" ? [{ name: token.name, value: token.value }] : []));
  return { values, args: positionals, tokens: options };
}

function describeFailure(command: Command, err: unknown): string {
  if (err instanceof UsageError || isParseArgsError(err)) return `facadectl ${command.name}: ${(err as Error).message}\n${commandUsage(command)}`;
  if (isServiceError(err)) {
    const decoded = decodeServiceError(err as ServiceError);
    const violations = decoded.fieldViolations.map((v) => `\n  ${v.field}: ${v.description}`).join("");
    return `facadectl ${command.name}: ${decoded.codeName}: ${decoded.message}${violations}`;
  }
  return `facadectl ${command.name}: ${(err as Error).message ?? String(err)}`;
}

function isParseArgsError(err: unknown): boolean {
  return typeof (err as { code?: unknown }).code === "string" && String((err as { code: string }).code).startsWith("ERR_PARSE_ARGS");
}

function commandUsage(command: Command): string {
  return `usage: facadectl ${command.name}${command.synopsis ? ` ${command.synopsis}` : ""}`;
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: facadectl COMMAND [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width + 2)}${c.summary}`),
    "",
    GLOBAL_USAGE,
    "",
    "facadectl COMMAND --help shows a command's arguments.",
  ].join("\n");
}
