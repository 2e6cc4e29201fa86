import { once } from "node:events";
import { status as Code, type handleServerStreamingCall, type handleUnaryCall, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import type { Logger } from "../logging.ts";
import { rpcDuration, rpcHandled, secondsSince } from "../telemetry/metrics.ts";
import { statusFromError, type ErrorStatus } from "./status.ts";

/**
 * grpc-js calls handlers with callbacks and knows nothing of promises: an
 * async handler that rejects would leave the call hanging (or, thrown
 * synchronously, crash the process). These wrappers are the only way handlers
 * are registered, so every failure becomes a status from statusFromError and a
 * log line, and no stack ever reaches a client; they also count every call
 * and its duration by method and code.
 */

export type UnaryHandler<Req, Res> = (request: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>;

export function unaryHandler<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    // The extra then() turns a synchronous throw into a rejection too.
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (response) => {
          logger.debug({ method, ms: elapsed(started) }, "call ok");
          observe(method, Code.OK, started);
          callback(null, response);
        },
        (err: unknown) => {
          const status = statusFromError(err);
          logFailure(logger, method, err, status, started);
          observe(method, status.code, started);
          callback(status);
        },
      );
  };
}

/** A server-streaming handler writes through send(), which waits while the client is slow. */
export interface StreamContext<Res> {
  /** Aborted when the client cancels or goes away; stop producing. */
  signal: AbortSignal;
  send(message: Res): Promise<void>;
}

export type ServerStreamHandler<Req, Res> = (request: Req, stream: StreamContext<Res>, call: ServerWritableStream<Req, Res>) => Promise<void>;

export function serverStreamHandler<Req, Res>(method: string, logger: Logger, handler: ServerStreamHandler<Req, Res>): handleServerStreamingCall<Req, Res> {
  return (call) => {
    const started = performance.now();
    const cancel = new AbortController();
    call.once("cancelled", () => cancel.abort());
    const send = async (message: Res): Promise<void> => {
      if (cancel.signal.aborted) return;
      // write() returning false means the transport buffer is full: wait, so
      // a slow client holds back the producer instead of filling memory.
      if (!call.write(message)) await once(call, "drain", { signal: cancel.signal }).catch(() => undefined);
    };
    Promise.resolve()
      .then(() => handler(call.request, { signal: cancel.signal, send }, call))
      .then(
        () => {
          logger.debug({ method, ms: elapsed(started) }, "stream ended");
          observe(method, cancel.signal.aborted ? Code.CANCELLED : Code.OK, started);
          if (!cancel.signal.aborted) call.end();
        },
        (err: unknown) => {
          if (cancel.signal.aborted) {
            logger.debug({ method, err }, "stream failed after the client went away");
            observe(method, Code.CANCELLED, started);
            return;
          }
          const status = statusFromError(err);
          logFailure(logger, method, err, status, started);
          observe(method, status.code, started);
          call.emit("error", status);
        },
      );
  };
}

function logFailure(logger: Logger, method: string, err: unknown, status: ErrorStatus, started: number): void {
  const fields = { method, code: Code[status.code], ms: elapsed(started) };
  // A bug gets its stack in the log; an outage a warning; an expected refusal
  // (unknown id, bad request) only a debug line, as it is the caller's business.
  if (status.internal) logger.error({ ...fields, err }, "call failed");
  else if (status.code === Code.UNAVAILABLE) logger.warn({ ...fields, reason: status.details }, "call failed: dependency unavailable");
  else logger.debug({ ...fields, reason: status.details }, "call refused");
}

function observe(method: string, code: Code, started: number): void {
  const labels = { method, code: Code[code] };
  rpcHandled.inc(labels);
  rpcDuration.observe(labels, secondsSince(started));
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
