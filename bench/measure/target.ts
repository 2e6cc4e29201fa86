/** One of the two registries under test, serving the same image under its own name. */
export interface Target {
  /** "distribution" or "registry-facade". */
  label: string;
  url: string;
  /** Repository and tag of the composed image on this registry. */
  repository: string;
  tag: string;
  /** The serving process, for VmRSS. */
  pid: number;
}

export const manifestUrl = (t: Target) => `${t.url}/v2/${t.repository}/manifests/${t.tag}`;
export const blobUrl = (t: Target, digest: string) => `${t.url}/v2/${t.repository}/blobs/${digest}`;
