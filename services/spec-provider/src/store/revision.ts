import { PreconditionError } from "../../../shared/grpc/errors.ts";

/**
 * The expected-revision rule both stores apply before a write: undefined
 * writes unconditionally, 0 means "must not exist yet", n means "must be at
 * revision n". The backends still make the write itself conditional, so this
 * check cannot be raced.
 */
export function checkExpectedRevision(id: string, current: bigint | undefined, expected: bigint | undefined): void {
  if (expected === undefined) return;
  if (expected === 0n && current !== undefined) {
    throw new PreconditionError(`workspace ${id} already exists (revision ${current}); expected it not to`);
  }
  if (expected !== 0n && current !== expected) {
    throw new PreconditionError(`workspace ${id} is at ${current === undefined ? "no revision (it does not exist)" : `revision ${current}`}; expected revision ${expected}`);
  }
}
