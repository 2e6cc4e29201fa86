/**
 * The errors services throw when a request cannot be answered. Handlers and
 * stores throw these; services/shared/grpc/status.ts is the one place that
 * turns them into gRPC codes, so "no such workspace" and "try again" can never
 * drift apart between services.
 */

/** One bad field of a request, named by its proto path: spec.content_layer[1].remote.digest. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** The request is malformed; every bad field is listed (INVALID_ARGUMENT with a BadRequest detail). */
export class InvalidArgumentError extends Error {
  constructor(readonly violations: readonly FieldViolation[]) {
    super(violations.length === 1 ? `invalid ${violations[0]!.field}: ${violations[0]!.description}` : `${violations.length} invalid fields`);
    this.name = "InvalidArgumentError";
  }
}

/** The thing asked for does not exist (NOT_FOUND). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A condition the caller set does not hold, e.g. an expected revision (FAILED_PRECONDITION). */
export class PreconditionError extends Error {
  override name = "PreconditionError";
}

/** A dependency (the store, NATS) cannot be reached right now; retrying may help (UNAVAILABLE). */
export class UnavailableError extends Error {
  override name = "UnavailableError";
}

/** The call carries no credentials, or ones that are not valid (UNAUTHENTICATED). */
export class UnauthenticatedError extends Error {
  override name = "UnauthenticatedError";
}

/** The caller is known but not allowed this call (PERMISSION_DENIED). */
export class PermissionDeniedError extends Error {
  override name = "PermissionDeniedError";
}
