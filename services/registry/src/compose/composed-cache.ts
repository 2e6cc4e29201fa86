import { LRUCache } from "lru-cache";
import { ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import { digestOf } from "../../../shared/digest.ts";
import { SingleFlight } from "../cache/single-flight.ts";
import type { ComposeDeps } from "./compose.ts";
import { imageRefs } from "./compose.ts";
import { currentDigest, staleResolution } from "./image.ts";
import type { Rendering } from "./render.ts";

/** What the images of a spec resolved to: each ref's digest, and all of them as one string. */
export interface Pinned {
  digests: ReadonlyMap<string, string>;
  fingerprint: string;
  /** Refs whose digest is the last known one because upstream failed (for the Warning header). */
  stale: string[];
}

/**
 * Composed renderings in memory, so a warm manifest GET by tag does no
 * composition, no JSON and no store access. An entry is for one repository
 * name and one spec, and is used only while every image ref of the spec still
 * resolves to the digests it was composed from (a moved tag recomposes; tag
 * resolution, and how fresh it is, stays the upstream client's business) and
 * the static layers are the ones it was composed with.
 */
export class ComposedCache {
  /** Spec digests per spec object: a spec cache hands out the same object, so a hit hashes nothing. */
  private readonly specDigests = new WeakMap<ImageSpec, string>();
  private readonly entries = new LRUCache<string, { fingerprint: string; staticLayers: ComposeDeps["staticLayers"]; renderings: Rendering[] }>({ max: 10_000 });
  private readonly pinning = new SingleFlight<string, Pinned | undefined>("pin");

  constructor(private readonly deps: ComposeDeps) {}

  /** The cache (and single-flight) key of spec under a repository name. */
  key(name: string, spec: ImageSpec): string {
    let digest = this.specDigests.get(spec);
    if (digest === undefined) {
      digest = digestOf(ImageSpec.encode(spec).finish());
      this.specDigests.set(spec, digest);
    }
    return `${name} ${digest}`;
  }

  /** Drops every composition of a repository (its workspace was deleted and its record with it). */
  dropRepository(name: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${name} `)) this.entries.delete(key);
  }

  /**
   * The digests the spec's images resolve to now; undefined when one cannot
   * be resolved (composing will say why). Concurrent pulls under one key
   * (a fleet of workspaces starting) share one resolution.
   */
  pin(key: string, spec: ImageSpec): Promise<Pinned | undefined> {
    return this.pinning.run(key, () => this.resolve(spec));
  }

  private async resolve(spec: ImageSpec): Promise<Pinned | undefined> {
    const refs = imageRefs(spec, this.deps.staticLayers);
    try {
      const digests = await Promise.all(refs.map((ref) => currentDigest(this.deps.client, ref)));
      const stale = refs.flatMap((ref) => staleResolution(this.deps.client, ref) ?? []);
      return { digests: new Map(refs.map((ref, i) => [ref, digests[i] as string])), fingerprint: digests.join(","), stale };
    } catch {
      return undefined;
    }
  }

  get(key: string, pinned: Pinned): Rendering[] | undefined {
    const entry = this.entries.get(key);
    // A static layer reload swaps the list whole: entries composed with the old one are stale.
    return entry?.fingerprint === pinned.fingerprint && entry.staticLayers === this.deps.staticLayers ? entry.renderings : undefined;
  }

  /** staticLayers: the list the composition started with. */
  set(key: string, pinned: Pinned, staticLayers: ComposeDeps["staticLayers"], renderings: Rendering[]): void {
    this.entries.set(key, { fingerprint: pinned.fingerprint, staticLayers, renderings });
  }
}
