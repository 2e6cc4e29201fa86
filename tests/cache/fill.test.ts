import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { ftruncate } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { Fill } from "../../services/registry/src/cache/fill.ts";
import { fd } from "../../services/registry/src/cache/fd.ts";

/** One Fill over a temporary file, its upstream body fed by the test. */
async function startFill(t: { after: (fn: () => Promise<void>) => void }, blob: Buffer) {
  const dir = await mkdtemp(join(tmpdir(), "facade-fill-"));
  const file = await fd.open(join(dir, "partial"), "w+");
  const body = new PassThrough();
  const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
  const fill = new Fill(digest, blob.length, file, async (signal) => {
    signal.addEventListener("abort", () => body.destroy(new Error("aborted")), { once: true });
    return body;
  }, () => undefined);
  t.after(async () => {
    body.destroy();
    await fill.done;
    fill.retire();
    await rm(dir, { recursive: true, force: true });
  });
  await fill.opened;
  return { fill, body, file };
}

test("a cache file cut short under a reader fails that reader instead of spinning on empty reads", async (t) => {
  const blob = randomBytes(300 * 1024);
  const { fill, body, file } = await startFill(t, blob);
  body.write(blob.subarray(0, 100 * 1024));
  await once(fill, "progress");
  // What was written is gone from the file (a full disk's truncation, an operator's rm + recreate).
  await ftruncateFd(file);
  const reader = fill.reader();
  reader.resume();
  const outcome = await Promise.race([once(reader, "error").then(([err]) => (err as Error).message), sleep(5000, "no error within 5 s", { ref: false })]);
  assert.match(String(outcome), /shorter than what was written/);
  assert.equal(await fill.done, false, "the only reader left: the fetch is abandoned, never committed");
});

test("readers that follow a fill get the blob's bytes exactly, the last byte only after the digest verified", async (t) => {
  const blob = randomBytes(2 * 1024 * 1024 + 17);
  const { fill, body } = await startFill(t, blob);
  const early = fill.reader();
  const chunks: Buffer[] = [];
  early.on("data", (c: Buffer) => chunks.push(c));
  body.write(blob.subarray(0, 1024 * 1024));
  await once(fill, "progress");
  const late = fill.reader();
  const lateChunks: Buffer[] = [];
  late.on("data", (c: Buffer) => lateChunks.push(c));
  // Every byte arrives, but the body has not ended, so nothing is verified yet.
  body.write(blob.subarray(1024 * 1024));
  await waitFor(() => Buffer.concat(chunks).length === blob.length - 1 && Buffer.concat(lateChunks).length === blob.length - 1);
  await sleep(50);
  assert.equal(Buffer.concat(chunks).length, blob.length - 1, "the last byte waits for the digest");
  body.end();
  await Promise.all([once(early, "end"), once(late, "end")]);
  assert.ok(Buffer.concat(chunks).equals(blob));
  assert.ok(Buffer.concat(lateChunks).equals(blob));
  assert.equal(await fill.done, true);
});

async function ftruncateFd(file: number): Promise<void> {
  await new Promise<void>((resolve, reject) => ftruncate(file, 0, (err) => (err ? reject(err) : resolve())));
}

async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 5000) throw new Error("condition not met within 5 s");
    await sleep(10);
  }
}
