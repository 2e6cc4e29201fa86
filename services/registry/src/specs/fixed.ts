import { readFile, stat } from "node:fs/promises";
import { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import { RegistryError } from "../errors.ts";
import type { SpecSource } from "./source.ts";

/**
 * fixed/<name>: specs from a JSON file `{ "<name>": <ImageSpec as protobuf
 * JSON>, ... }`, for development and tests. The file is read again when its
 * modification time or size changes, so it can be edited while the registry runs.
 */
export class FixedSpecSource implements SpecSource {
  private loaded: { stamp: string; specs: Map<string, ImageSpec> } | undefined;

  constructor(private readonly file: string | undefined) {}

  async get(name: string): Promise<ImageSpec | undefined> {
    if (this.file === undefined) return undefined;
    return (await this.load(this.file)).get(name);
  }

  private async load(file: string): Promise<Map<string, ImageSpec>> {
    let stamp: string;
    try {
      const info = await stat(file);
      stamp = `${info.mtimeMs}:${info.size}`;
    } catch (err) {
      throw new RegistryError("UNKNOWN", "fixed spec file unreadable", { reason: (err as Error).message });
    }
    if (this.loaded?.stamp === stamp) return this.loaded.specs;
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(file, "utf8"));
    } catch (err) {
      throw new RegistryError("UNKNOWN", "fixed spec file is not valid JSON", { reason: (err as Error).message });
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new RegistryError("UNKNOWN", "fixed spec file must be an object of named specs");
    }
    const specs = new Map(Object.entries(raw).map(([name, json]) => [name, ImageSpec.fromJSON(json)]));
    this.loaded = { stamp, specs };
    return specs;
  }
}
