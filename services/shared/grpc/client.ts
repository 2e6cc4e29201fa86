import { InterceptingCall, Metadata, type CallOptions, type ClientUnaryCall, type Interceptor, type ServiceError } from "@grpc/grpc-js";

/** The callback form of a generated client method (its fullest overload). */
type UnaryMethod<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (err: ServiceError | null, response: Res) => void) => ClientUnaryCall;

/**
 * Calls a generated grpc-js client method and returns a promise; pass the
 * method bound to its client: unaryCall(client.getSpec.bind(client), {id}).
 * A failure rejects with the grpc-js ServiceError (see decodeServiceError);
 * an aborted signal cancels the call (CANCELLED).
 */
export function unaryCall<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: Partial<CallOptions> = {}, signal?: AbortSignal): Promise<Res> {
  return new Promise((resolve, reject) => {
    const call = method(request, new Metadata(), options, (err, response) => {
      signal?.removeEventListener("abort", cancel);
      if (err) reject(err);
      else resolve(response);
    });
    const cancel = () => call.cancel();
    if (signal?.aborted) cancel();
    else signal?.addEventListener("abort", cancel, { once: true });
  });
}

/**
 * A client interceptor that sends `authorization: Bearer <token>` with every
 * call. Metadata rather than call credentials: grpc-js refuses call
 * credentials on a plaintext channel, and a loopback development set-up is one.
 */
export function bearerToken(token: string | (() => string)): Interceptor {
  const current = typeof token === "string" ? () => token : token;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${current()}`);
        next(metadata, listener);
      },
    });
}
