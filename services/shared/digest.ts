import { createHash, type Hash } from "node:crypto";

/** The only digest algorithm this project produces or accepts. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_PATTERN.test(value);
}

/** sha256:<hex> of a complete byte string (manifests, configs: small documents only). */
export function digestOf(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** An incremental digest for streams: feed it chunks, then compare. */
export class DigestVerifier {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;

  constructor(readonly expected: string) {}

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  get byteCount(): number {
    return this.bytes;
  }

  /** The digest of everything fed so far; call once, at the end. */
  finish(): { actual: string; matches: boolean } {
    const actual = `sha256:${this.hash.digest("hex")}`;
    return { actual, matches: actual === this.expected };
  }
}
