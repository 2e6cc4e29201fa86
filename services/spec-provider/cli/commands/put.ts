import { readFile } from "node:fs/promises";
import type { ContentLayer, ImageSpec, RemoteContentLayer } from "../../../../gen/registryfacade/provider.ts";
import { unaryCall } from "../../../shared/grpc/client.ts";
import { MediaType } from "../../../shared/media-types.ts";
import { bigintOption, stringList, stringOption, UsageError, type Command, type OptionToken } from "../command.ts";
import { describePut, putJson } from "../format.ts";

export const put: Command = {
  name: "put",
  synopsis: "ID --base REF [--ide REF] [--supervisor REF] [--ide-layer REF ...] [--content-tar FILE ...] [--content-url URL --digest D [--diff-id D] [--media-type T] [--size N] ...] [--expected-revision N]",
  summary: "create or replace the spec of a workspace; content layers keep their command-line order",
  options: {
    base: { type: "string" },
    ide: { type: "string" },
    supervisor: { type: "string" },
    "ide-layer": { type: "string", multiple: true },
    "content-tar": { type: "string", multiple: true },
    "content-url": { type: "string", multiple: true },
    digest: { type: "string", multiple: true },
    "diff-id": { type: "string", multiple: true },
    "media-type": { type: "string", multiple: true },
    size: { type: "string", multiple: true },
    "expected-revision": { type: "string" },
  },
  async run(input) {
    const [id, ...extra] = input.args;
    if (id === undefined || extra.length > 0) throw new UsageError("put takes exactly one workspace id");
    const baseRef = stringOption(input.values, "base");
    if (baseRef === undefined) throw new UsageError("put needs --base REF");
    const spec: ImageSpec = {
      baseRef,
      ideRef: stringOption(input.values, "ide") ?? "",
      supervisorRef: stringOption(input.values, "supervisor") ?? "",
      ideLayerRef: stringList(input.values, "ide-layer"),
      contentLayer: await contentLayers(input.tokens),
    };
    const expectedRevision = bigintOption("expected-revision", stringOption(input.values, "expected-revision"));
    const client = await input.client();
    const { stored, pullCredential } = await unaryCall(client.putSpec.bind(client), { id, spec, expectedRevision }, { deadline: input.deadline() }, input.signal);
    input.out(input.json ? JSON.stringify(putJson(stored!, pullCredential)) : describePut(stored!, pullCredential));
  },
};

/**
 * Content layers in command-line order: --content-tar FILE is a direct
 * layer; --content-url URL starts a remote layer that the --digest,
 * --diff-id, --media-type and --size after it describe.
 */
async function contentLayers(tokens: readonly OptionToken[]): Promise<ContentLayer[]> {
  const layers: Array<{ tar: string } | { remote: RemoteContentLayer; sizeGiven: boolean }> = [];
  for (const { name, value } of tokens) {
    if (value === undefined) continue;
    if (name === "content-tar") {
      layers.push({ tar: value });
    } else if (name === "content-url") {
      layers.push({ remote: { url: value, digest: "", diffId: "", mediaType: "", size: 0n }, sizeGiven: false });
    } else if (["digest", "diff-id", "media-type", "size"].includes(name)) {
      const last = layers.at(-1);
      if (last === undefined || !("remote" in last)) throw new UsageError(`--${name} describes a --content-url and must follow one`);
      if (name === "digest") last.remote.digest = value;
      if (name === "diff-id") last.remote.diffId = value;
      if (name === "media-type") last.remote.mediaType = value;
      if (name === "size") {
        last.remote.size = bigintOption("size", value)!;
        last.sizeGiven = true;
      }
    }
  }
  return Promise.all(
    layers.map(async (layer): Promise<ContentLayer> => {
      if ("tar" in layer) return { spec: { $case: "direct", value: { content: await readTar(layer.tar) } } };
      const remote = layer.remote;
      if (remote.digest === "") throw new UsageError(`--content-url ${remote.url} needs --digest`);
      // A diff id different from the digest means the blob is compressed.
      if (remote.mediaType === "") remote.mediaType = remote.diffId !== "" && remote.diffId !== remote.digest ? MediaType.ociLayerGzip : MediaType.ociLayer;
      if (!layer.sizeGiven) remote.size = await contentLength(remote.url);
      return { spec: { $case: "remote", value: remote } };
    }),
  );
}

async function readTar(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read --content-tar ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Without --size, the blob's size is what its server says in answer to HEAD. */
async function contentLength(url: string): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new UsageError(`cannot HEAD ${url} to learn its size (${(err as Error).message}); give --size`);
  }
  const length = response.headers.get("content-length");
  if (!response.ok || length === null || !/^\d+$/.test(length)) {
    throw new UsageError(`HEAD ${url} answered ${response.status} without a Content-Length; give --size`);
  }
  return BigInt(length);
}
