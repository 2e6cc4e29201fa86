import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The repository root, where `npm start` and the README's commands run. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FACADECTL = fileURLToPath(new URL("../../bin/facadectl.js", import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real facadectl executable from the repository root; never rejects. */
export function facadectl(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [FACADECTL, ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
