import assert from "node:assert/strict";
import { status as Code, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { SpecEvent, WatchSpecsResponse } from "../../gen/facade/manage/v1/manage.ts";
import type { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { decodeServiceError, isServiceError } from "../../services/shared/grpc/status.ts";

export const DIGEST_A = `sha256:${"a".repeat(64)}`;
export const DIGEST_B = `sha256:${"b".repeat(64)}`;

export function spec(overrides: Partial<ImageSpec> = {}): ImageSpec {
  return { baseRef: "docker.io/library/alpine:3.20", ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [], ...overrides };
}

/** Awaits a call that must fail; returns its decoded status. */
export async function failure(call: Promise<unknown>): Promise<{ code: Code; message: string; fields: string[] }> {
  try {
    await call;
  } catch (err) {
    assert.ok(isServiceError(err), `expected a gRPC error, got ${String(err)}`);
    const decoded = decodeServiceError(err as ServiceError);
    return { code: decoded.code, message: decoded.message, fields: decoded.fieldViolations.map((v) => v.field) };
  }
  assert.fail("the call succeeded; expected it to fail");
}

/** Collects the events of a watch stream as they arrive. */
export class EventCollector {
  readonly events: SpecEvent[] = [];
  error: ServiceError | undefined;

  constructor(readonly stream: ClientReadableStream<WatchSpecsResponse>) {
    stream.on("data", (response: WatchSpecsResponse) => this.events.push(response.event!));
    stream.on("error", (err: ServiceError) => (this.error = err));
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<SpecEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (this.error && this.error.code !== Code.CANCELLED) throw this.error;
      if (Date.now() > deadline) assert.fail(`saw ${this.events.length} events, expected ${count}: ${JSON.stringify(this.events, bigints)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.events;
  }

  /** Cancels the call and waits for its final status (CANCELLED). */
  async cancel(): Promise<void> {
    // Not events.once: that rejects on the CANCELLED error event.
    const status = new Promise((resolve) => this.stream.once("status", resolve));
    this.stream.cancel();
    await status;
  }
}

export function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
