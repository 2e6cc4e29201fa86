import { LRUCache } from "lru-cache";
import type { ImageSpec } from "../../../gen/registryfacade/provider.ts";
import type { Logger } from "../../shared/logging.ts";
import { cacheLookup, compositionDuration, secondsSince, specLookupDuration } from "../../shared/telemetry/metrics.ts";
import { SingleFlight } from "./cache/single-flight.ts";
import { accepts, type Accepted } from "./accept.ts";
import { compose, type ComposeDeps } from "./compose/compose.ts";
import { ComposedCache, type Pinned } from "./compose/composed-cache.ts";
import { renderAll, type RenderedManifest, type Rendering } from "./compose/render.ts";
import { RegistryError } from "./errors.ts";
import type { Repository } from "./names.ts";
import type { SpecSource } from "./specs/source.ts";
import type { RepositoryRecord, Store } from "./store.ts";

export interface ServedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  /** Set when an image tag resolved to its last known digest because upstream failed. */
  warning?: string;
}

/**
 * Manifests of composed images. By tag: fetch the spec, compose, store every
 * rendering and the blob provenance, then answer; while the spec and the
 * digests its images resolve to stay the same, from memory. By digest: only
 * what this registry composed for that very repository, from the store (the
 * bytes kept in memory: they cannot change).
 */
export class ManifestService {
  private readonly compositions = new SingleFlight<string, Rendering[]>("composition");
  private readonly composed: ComposedCache;
  /** Manifest bytes by digest; containerd asks by digest right after every HEAD by tag. */
  private readonly manifestBytes = new LRUCache<string, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (b) => Math.max(1, b.length) });

  constructor(
    private readonly specs: Record<Repository["kind"], SpecSource>,
    private readonly deps: ComposeDeps,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {
    this.composed = new ComposedCache(deps);
  }

  async byTag(repo: Repository, accepted: Accepted): Promise<ServedManifest> {
    const spec = await this.lookUp(repo);
    if (spec === undefined) throw new RegistryError("MANIFEST_UNKNOWN", "no image spec for this repository", { name: repo.name });
    const key = this.composed.key(repo.name, spec);
    const pinned = await this.composed.pin(key, spec);
    const cached = pinned && this.composed.get(key, pinned);
    cacheLookup("manifest", cached ? "hit" : "miss");
    const renderings = cached || (await this.composeOnce(key, repo, spec, pinned));
    const rendered = renderings.filter((r): r is RenderedManifest => "bytes" in r);
    const chosen = rendered.find((r) => accepts(accepted, r.mediaType));
    if (!chosen) throw notAcceptable(accepted, renderings.map((r) => ("unrenderable" in r ? r.unrenderable : `${r.mediaType} not accepted`)));
    if (pinned?.stale.length) return { ...chosen, warning: `upstream unavailable, tag resolved to its last known digest: ${pinned.stale.join("; ")}` };
    return chosen;
  }

  /**
   * Every tag of a repository yields its composed image, so there is no list
   * to keep; "latest" is the one tag runtimes are given (PutSpec's image_ref)
   * and what `skopeo inspect` expects to find.
   */
  async tags(repo: Repository): Promise<string[]> {
    if ((await this.lookUp(repo)) === undefined) throw new RegistryError("NAME_UNKNOWN", "no image spec for this repository", { name: repo.name });
    return ["latest"];
  }

  private async lookUp(repo: Repository): Promise<ImageSpec | undefined> {
    const started = performance.now();
    let result = "error";
    try {
      const spec = await this.specs[repo.kind].get(repo.key);
      result = spec === undefined ? "not_found" : "found";
      return spec;
    } finally {
      specLookupDuration.observe({ source: repo.kind, result }, secondsSince(started));
    }
  }

  /**
   * Concurrent pulls of the same spec under the same name (a fleet of
   * workspaces starting at once) share one composition.
   */
  private composeOnce(key: string, repo: Repository, spec: ImageSpec, pinned: Pinned | undefined): Promise<Rendering[]> {
    return this.compositions.run(key, async () => {
      const started = performance.now();
      let result = "error";
      try {
        const renderings = await this.composeAndStore(key, repo, spec, pinned);
        result = "ok";
        return renderings;
      } finally {
        compositionDuration.observe({ result }, secondsSince(started));
      }
    });
  }

  private async composeAndStore(key: string, repo: Repository, spec: ImageSpec, pinned: Pinned | undefined): Promise<Rendering[]> {
    const staticLayers = this.deps.staticLayers;
    const composition = await compose(spec, this.deps, pinned?.digests);
    const renderings = renderAll(composition);
    const rendered = renderings.filter((r): r is RenderedManifest => "bytes" in r);

    // Stored before the answer, so a follow-up by digest (containerd does
    // exactly that) or a blob request finds everything, even after a restart.
    await this.store.putBlob(composition.config.digest, composition.config.bytes);
    await Promise.all(rendered.map((r) => this.store.putBlob(r.digest, r.bytes)));
    const blobs: RepositoryRecord["blobs"] = { [composition.config.digest]: { size: composition.config.bytes.length, source: { kind: "store" } } };
    for (const { descriptor, source } of composition.layers) blobs[descriptor.digest] ??= { size: descriptor.size, source };
    await this.store.addToRepository(repo.name, Object.fromEntries(rendered.map((r) => [r.digest, { mediaType: r.mediaType, size: r.bytes.length }])), blobs);
    this.logger.debug({ name: repo.name, digests: rendered.map((r) => r.digest), layers: composition.layers.length }, "composed");
    // Only once stored: a hit answers without touching the store.
    if (pinned) this.composed.set(key, pinned, staticLayers, renderings);
    return renderings;
  }

  /**
   * A deleted workspace's compositions are forgotten with its store record:
   * a composition cached here would otherwise answer without storing again,
   * leaving a manifest whose record is gone.
   */
  forgetRepository(name: string): void {
    this.composed.dropRepository(name);
  }

  async byDigest(repo: Repository, digest: string, accepted: Accepted): Promise<ServedManifest> {
    const entry = (await this.store.repository(repo.name))?.manifests[digest];
    const bytes = entry ? (this.manifestBytes.get(digest) ?? (await this.store.readBlob(digest))) : undefined;
    if (bytes) this.manifestBytes.set(digest, bytes);
    if (!entry || !bytes) throw new RegistryError("MANIFEST_UNKNOWN", "manifest unknown to this repository", { name: repo.name, digest });
    if (!accepts(accepted, entry.mediaType)) throw notAcceptable(accepted, [`${entry.mediaType} not accepted`]);
    return { bytes, digest, mediaType: entry.mediaType };
  }
}

function notAcceptable(accepted: Accepted, reasons: string[]): RegistryError {
  return new RegistryError("MANIFEST_UNKNOWN", "no rendering of this manifest in an accepted media type", {
    accepted: accepted === "any" ? ["*/*"] : [...accepted],
    reasons,
  });
}
