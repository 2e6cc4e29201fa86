import { readFile } from "node:fs/promises";

/** Below this a secret is a placeholder or a mistake, not a secret. */
const MIN_SECRET_LENGTH = 16;

/** A secret file that cannot be used; the message never quotes the file. */
export class SecretFileError extends Error {
  override name = "SecretFileError";
}

/**
 * The non-empty lines of a file of secrets (tokens, keys), trimmed. Several
 * lines let an operator rotate: a new secret goes first and the old one stays
 * accepted until every client has the new one.
 */
export async function readSecretLines(path: string): Promise<string[]> {
  return parseSecretLines(await readFile(path, "utf8"), path);
}

export function parseSecretLines(text: string, path: string): string[] {
  const lines = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (lines.length === 0) throw new SecretFileError(`${path}: no secret in the file`);
  if (lines.some((line) => line.length < MIN_SECRET_LENGTH)) throw new SecretFileError(`${path}: every secret must be at least ${MIN_SECRET_LENGTH} characters`);
  return lines;
}
