import type { ImageSpec } from "../../../../gen/registryfacade/provider.ts";

/**
 * Where the spec of a repository comes from. undefined means "no such
 * workspace" (a 404); a source that cannot answer throws an UNAVAILABLE
 * RegistryError instead, because a 404 makes a runtime give up.
 */
export interface SpecSource {
  get(key: string): Promise<ImageSpec | undefined>;
}
