import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/** The bytes from a source are not the blob they claim to be (digest or length). */
export class BlobIntegrityError extends Error {
  override readonly name = "BlobIntegrityError";
}

/**
 * Passes a blob through while hashing it and holds back the latest chunk
 * until the end: the last bytes leave only once size and digest are right.
 * On a mismatch the stream errors, the response is destroyed, and the client
 * is left one chunk short: an error, never a complete wrong blob.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private held: Buffer | undefined;
  private bytes = 0;

  constructor(
    private readonly digest: string,
    private readonly size: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.size) return done(new BlobIntegrityError(`blob ${this.digest} longer than ${this.size} bytes`));
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    done(null, previous);
  }

  override _flush(done: TransformCallback): void {
    if (this.bytes !== this.size) return done(new BlobIntegrityError(`blob ${this.digest}: ${this.bytes} bytes, expected ${this.size}`));
    const actual = `sha256:${this.hash.digest("hex")}`;
    if (actual !== this.digest) return done(new BlobIntegrityError(`blob ${this.digest} arrived with digest ${actual}`));
    done(null, this.held);
  }
}

/** Fails unless exactly `length` bytes pass; a part of a blob cannot be digest-checked, its length can. */
export class ExactLength extends Transform {
  private bytes = 0;

  constructor(private readonly length: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.length) return done(new BlobIntegrityError(`range longer than ${this.length} bytes`));
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    done(this.bytes === this.length ? null : new BlobIntegrityError(`range of ${this.bytes} bytes, expected ${this.length}`));
  }
}

/** Cuts [start, start+length) out of a full stream, for an upstream that ignored our Range. */
export class Slice extends Transform {
  private offset = 0;

  constructor(
    private readonly start: number,
    private readonly length: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const from = Math.max(0, this.start - this.offset);
    const to = Math.min(chunk.length, this.start + this.length - this.offset);
    this.offset += chunk.length;
    done(null, from < to ? chunk.subarray(from, to) : undefined);
  }
}
