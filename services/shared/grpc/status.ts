import { Metadata, status as Code, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { BadRequest } from "../../../gen/google/rpc/error_details.ts";
import { Status } from "../../../gen/google/rpc/status.ts";
import { InvalidArgumentError, NotFoundError, PermissionDeniedError, PreconditionError, UnauthenticatedError, UnavailableError, type FieldViolation } from "./errors.ts";

/**
 * The richer gRPC error model: a google.rpc.Status, serialised into this
 * trailer, carries typed details (here a BadRequest listing the bad fields)
 * next to the plain code and message every client sees.
 */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";
const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

/** What the server sends for an error: code, message, and trailers with details. */
export type ErrorStatus = StatusObject & { internal: boolean };

/**
 * The one mapping of typed errors to gRPC codes. Anything else is a bug and
 * becomes INTERNAL with a fixed message, so no stack or internal detail
 * reaches a client (the caller logs the original).
 */
export function statusFromError(err: unknown): ErrorStatus {
  const metadata = new Metadata();
  if (err instanceof InvalidArgumentError) {
    const detail = BadRequest.encode({ fieldViolations: [...err.violations] }).finish();
    const status = Status.encode({ code: Code.INVALID_ARGUMENT, message: err.message, details: [{ typeUrl: BAD_REQUEST_TYPE_URL, value: Buffer.from(detail) }] }).finish();
    metadata.set(STATUS_DETAILS_KEY, Buffer.from(status));
    return { code: Code.INVALID_ARGUMENT, details: err.message, metadata, internal: false };
  }
  if (err instanceof NotFoundError) return { code: Code.NOT_FOUND, details: err.message, metadata, internal: false };
  if (err instanceof PreconditionError) return { code: Code.FAILED_PRECONDITION, details: err.message, metadata, internal: false };
  if (err instanceof UnavailableError) return { code: Code.UNAVAILABLE, details: err.message, metadata, internal: false };
  if (err instanceof UnauthenticatedError) return { code: Code.UNAUTHENTICATED, details: err.message, metadata, internal: false };
  if (err instanceof PermissionDeniedError) return { code: Code.PERMISSION_DENIED, details: err.message, metadata, internal: false };
  return { code: Code.INTERNAL, details: "internal error", metadata, internal: true };
}

/** What a client learns from a failed call, details decoded. */
export interface DecodedError {
  code: Code;
  /** The name of the code: INVALID_ARGUMENT. */
  codeName: string;
  message: string;
  /** The BadRequest field violations; empty when the server sent none. */
  fieldViolations: FieldViolation[];
}

/** Decodes a failed call's status and the BadRequest detail in its trailers, if any. */
export function decodeServiceError(err: ServiceError): DecodedError {
  const fieldViolations: FieldViolation[] = [];
  for (const value of err.metadata?.get(STATUS_DETAILS_KEY) ?? []) {
    if (typeof value === "string") continue;
    try {
      for (const detail of Status.decode(value).details) {
        if (detail.typeUrl === BAD_REQUEST_TYPE_URL) fieldViolations.push(...BadRequest.decode(detail.value).fieldViolations);
      }
    } catch {
      // Undecodable details (another server's bug) leave the code and message, which are what matter.
    }
  }
  return { code: err.code, codeName: Code[err.code] ?? String(err.code), message: err.details, fieldViolations };
}

/** True for the errors grpc-js gives failed calls (as opposed to local bugs). */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === "number" && "details" in err;
}
