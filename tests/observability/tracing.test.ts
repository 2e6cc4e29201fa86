import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer } from "../support/images.ts";
import { TestNatsServer } from "../support/nats.ts";
import { OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.ts";
import { waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { putSpec, startService } from "../support/services.ts";

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

const newTrace = () => {
  const traceId = randomBytes(16).toString("hex");
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` };
};

test("one trace spans the pull, the registry, its gRPC call, the spec-provider and the upstream fetches; another the PutSpec and its NATS event", async () => {
  const receiver = await OtlpReceiver.start();
  const nats = await TestNatsServer.start();
  const upstream = await UpstreamRegistry.start();
  const dir = await mkdtemp(join(tmpdir(), "facade-trace-"));
  const built = image({ family: "oci", layers: [await layer([{ path: "hello.txt", content: "traced\n" }])] });
  const baseRef = await upstream.pushImage("traced", "1", built);
  const natsSection = { servers: [nats.url] };
  const specProvider = await startService("spec-provider", { nats: natsSection, specProvider: { port: 0, store: { type: "file", path: join(dir, "specs") } } }, receiver.env());
  const registry = await startService("registry", { nats: natsSection, registry: { port: 0, store: join(dir, "store"), remoteSpecProvider: [{ addr: `127.0.0.1:${specProvider.port}` }] } }, receiver.env());
  try {
    // The workspace manager's PutSpec, traced: the spec-provider announces it over NATS and the registry handles it.
    const put = newTrace();
    await putSpec(`127.0.0.1:${specProvider.port}`, "traced-ws", { baseRef }, { traceparent: put.traceparent });
    // The runtime's pull: its own trace context, as containerd sends it when it traces.
    const { traceId, traceparent } = newTrace();
    const res = await fetch(`http://127.0.0.1:${registry.port}/v2/remote/traced-ws/manifests/latest`, { headers: { traceparent } });
    assert.equal(res.status, 200, await res.clone().text());
    await res.arrayBuffer();

    const inTrace = () => receiver.spans.filter((s) => s.traceId === traceId);
    const find = (match: (s: ReceivedSpan) => boolean) => inTrace().find(match);
    const httpServer = (s: ReceivedSpan) => s.service === "registry" && s.kind === SERVER && s.name.startsWith("GET ");
    const grpcClient = (s: ReceivedSpan) => s.service === "registry" && s.kind === CLIENT && s.name.includes("registryfacade.SpecProvider/GetImageSpec");
    const grpcServer = (s: ReceivedSpan) => s.service === "spec-provider" && s.kind === SERVER && s.name.includes("registryfacade.SpecProvider/GetImageSpec");
    const upstreamFetch = (s: ReceivedSpan) => s.service === "registry" && s.kind === CLIENT && String(s.attributes["url.full"] ?? "").startsWith(upstream.url);
    await waitUntil("every span of the pull at the receiver", async () => [httpServer, grpcClient, grpcServer, upstreamFetch].every((m) => find(m) !== undefined), { timeoutMs: 15_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\nspans: ${JSON.stringify(receiver.spans.map((s) => [s.service, s.kind, s.name, s.traceId === traceId]))}`);
    });
    const server = find(httpServer)!;
    const client = find(grpcClient)!;
    const provider = find(grpcServer)!;
    // Parent links, not only a shared id: the spec-provider's span is a child of the registry's call.
    assert.equal(provider.parentSpanId, client.spanId);
    const ancestors = (span: ReceivedSpan): string[] => {
      const parent = inTrace().find((s) => s.spanId === span.parentSpanId);
      return parent ? [parent.spanId, ...ancestors(parent)] : [];
    };
    assert.ok(ancestors(client).includes(server.spanId), "the gRPC call happens inside the registry's HTTP span");
    const route = inTrace().find((s) => s.service === "registry" && s.name === "router - /v2/*name/manifests/:reference");
    assert.ok(route && ancestors(client).includes(route.spanId), "and inside the Koa route's span");
    for (const fetch of inTrace().filter(upstreamFetch)) assert.ok(ancestors(fetch).includes(server.spanId), "upstream fetches happen inside it too");
    assert.ok(inTrace().filter(upstreamFetch).length >= 2, "the tag HEAD and the manifest and config fetches upstream");
    assert.notEqual(server.parentSpanId, "", "the registry's span continues the runtime's trace");

    const putSpans = () => receiver.spans.filter((s) => s.traceId === put.traceId);
    await waitUntil("the PutSpec trace through NATS", async () => putSpans().some((s) => s.kind === CONSUMER), { timeoutMs: 15_000 }).catch((err: Error) => {
      throw new Error(`${err.message}\nspans: ${JSON.stringify(receiver.spans.map((s) => [s.service, s.kind, s.name, s.traceId === put.traceId]))}`);
    });
    const putServer = putSpans().find((s) => s.service === "spec-provider" && s.kind === SERVER && s.name.includes("PutSpec"));
    const publish = putSpans().find((s) => s.service === "spec-provider" && s.kind === PRODUCER);
    const consume = putSpans().find((s) => s.service === "registry" && s.kind === CONSUMER);
    assert.ok(putServer && publish && consume);
    assert.equal(publish.name, "registry-facade.events.spec.put publish");
    assert.equal(publish.parentSpanId, putServer.spanId, "published inside the PutSpec call");
    assert.equal(consume.parentSpanId, publish.spanId, "the registry's handling continues the publisher's span");
  } finally {
    await registry.stop();
    await specProvider.stop();
    await upstream.dispose();
    await receiver.stop();
    await nats.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
