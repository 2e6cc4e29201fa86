import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

/** A static layer from a .tar.gz on disk, described once at start-up. */
export interface StaticFileLayer {
  path: string;
  digest: string;
  diffId: string;
  size: number;
}

/** Streams the file once: digest of the gzip bytes, diff id of the tar inside. */
export async function describeFileLayer(path: string): Promise<StaticFileLayer> {
  const { size } = await stat(path);
  const blobHash = createHash("sha256");
  const tarHash = createHash("sha256");
  const source = createReadStream(path);
  source.on("data", (chunk) => blobHash.update(chunk));
  await pipeline(
    source,
    createGunzip(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        tarHash.update(chunk);
        done();
      },
    }),
  );
  return { path, size, digest: `sha256:${blobHash.digest("hex")}`, diffId: `sha256:${tarHash.digest("hex")}` };
}
