import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { TestNatsServer } from "../support/nats.ts";
import { startProcess, waitUntil } from "../support/process.ts";

const fixture = fileURLToPath(new URL("./fixtures/watch-then-close.ts", import.meta.url));

for (const mode of ["connected", "server-gone"] as const) {
  test(`closing the nats-kv store ends its watches and its connection (${mode}), so the process exits by itself`, async (t) => {
    const nats = await TestNatsServer.start();
    t.after(() => nats.dispose());
    const child = startProcess("watch-then-close", process.execPath, ["--import", "tsx", fixture, nats.url, mode]);
    t.after(() => child.kill());
    if (mode === "server-gone") {
      await waitUntil("the watches are set up", async () => child.log.includes("watching"), { process: child });
      await nats.stop();
    }

    const outcome = await Promise.race([child.exited.then((code) => ({ code })), sleep(20_000, "still running", { ref: false })]);
    assert.deepEqual(outcome, { code: 0 }, `the process did not exit after closing the store:\n${child.log}`);
    assert.match(child.log, /^running watch: the NATS watch ended \(connection closed\)$/m);
    assert.match(child.log, /^closed$/m);
  });
}
