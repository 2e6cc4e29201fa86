import tar from "tar-stream";
import { buffer } from "node:stream/consumers";

/** An uncompressed tar of the given files, as a DirectContentLayer carries. */
export async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  return buffer(pack);
}
