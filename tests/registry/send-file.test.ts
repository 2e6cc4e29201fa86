import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, get, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { sendFile } from "../../services/registry/src/blobs/send-file.ts";
import { READ_CHUNK } from "../../services/registry/src/cache/fd.ts";
import { BlobIntegrityError } from "../../services/registry/src/blobs/streams.ts";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** An HTTP server answering every GET with handler's sendFile of `file`; returns its URL and the handler's outcomes. */
async function serve(path: string, start: number, length: number, announced = length) {
  const outcomes: Array<Promise<void>> = [];
  const server = createServer((_req, res: ServerResponse) => {
    res.writeHead(200, { "content-length": announced });
    const outcome = (async () => {
      const fd = openSync(path, "r");
      try {
        await sendFile(fd, start, length, res);
        res.end();
      } finally {
        closeSync(fd);
      }
    })();
    outcome.catch(() => res.destroy());
    outcomes.push(outcome);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, outcomes, close: () => (server.closeAllConnections(), server.close()) };
}

/** Reads a whole answer, pausing now and then so the server's writes wait on the socket. */
function fetchSlowly(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    get(url, async (res) => {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of res) {
          chunks.push(chunk as Buffer);
          if (chunks.length % 16 === 0) await sleep(5);
        }
        resolve(Buffer.concat(chunks));
      } catch (err) {
        reject(err);
      }
    }).once("error", reject);
  });
}

test("sendFile sends exactly the range, intact through a slow reader, with two buffers reused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-sendfile-"));
  try {
    const data = randomBytes(6 * READ_CHUNK + 12345);
    const path = join(dir, "blob");
    await writeFile(path, data);
    const whole = await serve(path, 0, data.length);
    const part = await serve(path, 1000, 3 * READ_CHUNK + 7);
    try {
      assert.equal(sha(await fetchSlowly(whole.url)), sha(data));
      assert.equal(sha(await fetchSlowly(part.url)), sha(data.subarray(1000, 1000 + 3 * READ_CHUNK + 7)));
      await Promise.all([...whole.outcomes, ...part.outcomes]);
    } finally {
      whole.close();
      part.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("sendFile fails on a file shorter than promised, and when the client goes away", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-sendfile-"));
  try {
    const path = join(dir, "blob");
    await writeFile(path, randomBytes(1000));
    const short = await serve(path, 0, 2000);
    try {
      await assert.rejects(fetchSlowly(short.url));
      await assert.rejects(short.outcomes[0] as Promise<void>, BlobIntegrityError);
    } finally {
      short.close();
    }

    await writeFile(path, randomBytes(64 * READ_CHUNK));
    const big = await serve(path, 0, 64 * READ_CHUNK);
    try {
      await new Promise<void>((resolve) => {
        const req = get(big.url, (res) => {
          res.once("data", () => {
            req.destroy();
            resolve();
          });
        });
        req.once("error", () => undefined);
      });
      // The sender notices instead of waiting forever for writes that cannot complete.
      await assert.rejects(big.outcomes[0] as Promise<void>);
    } finally {
      big.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
