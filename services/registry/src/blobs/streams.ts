import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

/** The bytes from a source are not the blob they claim to be (digest or length). */
export class BlobIntegrityError extends Error {
  override readonly name = "BlobIntegrityError";
}

/**
 * Passes a blob through while hashing it, or only the inclusive range asked
 * for while hashing all of it (a range cannot be checked alone). The last
 * byte of what is passed on leaves only once size and digest are right: on a
 * mismatch the stream errors, the response is destroyed, and the client is
 * left a byte short, an error, never a complete wrong blob or range.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly digest: string,
    private readonly size: number,
    private readonly range: { start: number; end: number } = { start: 0, end: size - 1 },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const offset = this.bytes;
    this.bytes += chunk.length;
    if (this.bytes > this.size) return done(new BlobIntegrityError(`blob ${this.digest} longer than ${this.size} bytes`));
    this.hash.update(chunk);
    const from = Math.max(0, this.range.start - offset);
    const to = Math.min(chunk.length, this.range.end + 1 - offset);
    if (from >= to) return done();
    if (this.bytes <= this.range.end) return done(null, from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
    // This chunk carries the last byte passed on: it waits for the verdict.
    this.held = chunk.subarray(to - 1, to);
    done(null, to - 1 > from ? chunk.subarray(from, to - 1) : undefined);
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
