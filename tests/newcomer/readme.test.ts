import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, RETRY_AFTER_SECONDS } from "../../services/registry/src/errors.ts";
import { ROOT } from "../support/facadectl.ts";

/**
 * The README's troubleshooting table quotes what clients print; it must stay
 * what the registry answers: each status with its code as errors.ts maps
 * them, each quoted message present in the registry's source.
 */
test("the troubleshooting table quotes statuses, codes and messages the registry really uses", async () => {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("## Troubleshooting");
  const rows = readme
    .slice(start, readme.indexOf("\n## ", start + 1))
    .split("\n")
    .filter((line) => line.startsWith("| `"));
  assert.ok(rows.length >= 5, "a row per error users hit");

  const dir = join(ROOT, "services/registry/src");
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".ts"));
  const source = (await Promise.all(files.map((f) => readFile(join(dir, f), "utf8")))).join("\n");

  for (const row of rows) {
    const seen = row.split(" | ")[0] ?? "";
    for (const [, quoted = ""] of seen.matchAll(/`([^`]+)`/g)) {
      const status = /^(\d{3}) ([A-Z_]+)$/.exec(quoted);
      const retry = /^Retry-After: (\d+)$/.exec(quoted);
      if (status) assert.equal(ErrorCode[status[2] as keyof typeof ErrorCode], Number(status[1]), quoted);
      else if (retry) assert.equal(Number(retry[1]), RETRY_AFTER_SECONDS);
      else {
        // Placeholders (<ref>) stand for what the registry fills in; the words around them are its own.
        for (const fragment of quoted.split(/<[^>]+>|\.\.\./).map((f) => f.replace(/^[\s:/]+|[\s:/]+$/g, ""))) {
          if (fragment.length >= 12) assert.ok(source.includes(fragment), `"${fragment}" is in services/registry/src`);
        }
      }
    }
  }
});
