import { createHash } from "node:crypto";
import type { StaticLayerConfig } from "../../shared/config/schema.ts";
import type { Logger } from "../../shared/logging.ts";
import type { ComposeDeps, StaticLayer } from "./compose/compose.ts";
import { describeFileLayer } from "./compose/file-layer.ts";
import { resolveImage } from "./compose/image.ts";

/**
 * registry.staticLayer at run time. Compositions read deps.staticLayers when
 * they start, so a reload swaps the list whole and only later compositions
 * see it; manifests composed before keep their blob records (upstream
 * repository, file path) in the store and stay servable, as long as an old
 * file layer is not overwritten in place (give a changed file a new path).
 */
export class StaticLayers {
  /** Image refs that resolved upstream since the last change: checked once, not at every probe. */
  private readonly reachableRefs = new Set<string>();
  private readonly changeListeners = new Set<(fingerprint: string) => void>();

  /** deps: the composition's own, whose staticLayers this replaces on reload. */
  constructor(
    private readonly deps: ComposeDeps,
    private readonly logger: Logger,
  ) {}

  /** A digest of the layers in use; replicas compare it to know they compose alike. */
  get fingerprint(): string {
    return fingerprintOf(this.deps.staticLayers);
  }

  /**
   * Takes a new configuration; a file that cannot be read keeps the old
   * layers (and throws). Listeners hear of a real change only.
   */
  async reload(configs: readonly StaticLayerConfig[]): Promise<boolean> {
    const next = await describeStaticLayers(configs);
    if (fingerprintOf(next) === this.fingerprint) return false;
    this.deps.staticLayers = next;
    this.reachableRefs.clear();
    this.logger.info({ fingerprint: this.fingerprint, layers: configs.map((c) => c.ref) }, "static layers reloaded");
    for (const listener of [...this.changeListeners]) listener(this.fingerprint);
    return true;
  }

  /** For dropping compositions cached with the old layers and telling other replicas (static-layers.changed). */
  onChange(listener: (fingerprint: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Readiness: every static layer image resolves upstream. Until it does,
   * every composition would fail, so the registry reports not ready instead
   * of failing start-up, and the next probe tries again.
   */
  async reachable(): Promise<string> {
    const pending = this.deps.staticLayers.flatMap((s) => (s.type === "image" && !this.reachableRefs.has(s.ref) ? [s.ref] : []));
    const failures = await Promise.all(
      pending.map(async (ref) => {
        try {
          await resolveImage(this.deps.client, ref, this.deps.platform);
          this.reachableRefs.add(ref);
          return undefined;
        } catch (err) {
          return `${ref}: ${(err as Error).message}`;
        }
      }),
    );
    const failed = failures.filter((f) => f !== undefined);
    return failed.length === 0 ? "ok" : `static layer images not resolvable (${failed.join("; ")})`;
  }
}

/** Images by reference; file layers hashed (a missing or broken file throws). */
export function describeStaticLayers(configs: readonly StaticLayerConfig[]): Promise<StaticLayer[]> {
  return Promise.all(configs.map(async (s): Promise<StaticLayer> => (s.type === "image" ? { type: "image", ref: s.ref } : { type: "file", layer: await describeFileLayer(s.ref) })));
}

function fingerprintOf(layers: readonly StaticLayer[]): string {
  const parts = layers.map((s) => (s.type === "image" ? `image ${s.ref}` : `file ${s.layer.path} ${s.layer.digest}`));
  return `sha256:${createHash("sha256").update(parts.join("\n")).digest("hex")}`;
}
