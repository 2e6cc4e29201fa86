import { createHash, randomBytes } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import tar from "tar-stream";
import type { Layer } from "./images.ts";
import type { UpstreamRegistry } from "./upstream-registry.ts";

const CHUNK = randomBytes(1024 * 1024);

/** A tar holding one file of fileBytes bytes, produced chunk by chunk: never in memory as a whole. */
export function bigTar(fileBytes: number): Readable {
  const pack = tar.pack();
  const entry = pack.entry({ name: "big.bin", size: fileBytes, mode: 0o644, mtime: new Date("2024-01-01T00:00:00Z") });
  (async () => {
    for (let written = 0; written < fileBytes; written += CHUNK.length) {
      const chunk = CHUNK.subarray(0, Math.min(CHUNK.length, fileBytes - written));
      if (!entry.write(chunk)) await new Promise<void>((resolve) => entry.once("drain", () => resolve()));
    }
    await new Promise<void>((resolve) => entry.end(() => resolve()));
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  return pack as unknown as Readable;
}

/**
 * Pushes an uncompressed single-file layer of about fileBytes: the tar is
 * streamed once to learn its digest and size, then again into the registry.
 */
export async function pushBigLayer(upstream: UpstreamRegistry, repo: string, fileBytes: number): Promise<Layer> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of bigTar(fileBytes)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  const digest = `sha256:${hash.digest("hex")}`;
  await upstream.pushBlob(repo, digest, bigTar(fileBytes).pipe(new PassThrough()), size);
  return { blob: Buffer.alloc(0), digest, diffId: digest, size, gzip: false };
}
