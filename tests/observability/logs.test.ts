import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer } from "../support/images.ts";
import { OtlpReceiver } from "../support/otlp-receiver.ts";
import { freePort, waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { startService } from "../support/services.ts";

test("log lines of a request carry its trace and span ids, and credentials never reach the log", async () => {
  const receiver = await OtlpReceiver.start();
  const upstream = await UpstreamRegistry.start();
  const dir = await mkdtemp(join(tmpdir(), "facade-logs-"));
  try {
    const baseRef = await upstream.pushImage("logged", "1", image({ family: "oci", layers: [await layer([{ path: "a.txt", content: "a\n" }])] }));
    // A remote content layer whose signed URL points nowhere: its blob fails, and the failure is logged.
    const signature = `sig-${randomBytes(8).toString("hex")}`;
    const contentUrl = `http://127.0.0.1:${await freePort()}/layer.tar?X-Signature=${signature}`;
    const digest = `sha256:${"ab".repeat(32)}`;
    const specFile = join(dir, "specs.json");
    await writeFile(specFile, JSON.stringify({ logged: { baseRef, contentLayer: [{ remote: { url: contentUrl, digest, diffId: digest, mediaType: "application/vnd.oci.image.layer.v1.tar", size: 10 } }] } }));
    const registry = await startService("registry", { logLevel: "debug", registry: { port: 0, store: join(dir, "store"), fixedSpecFN: specFile } }, receiver.env());
    try {
      const traceId = randomBytes(16).toString("hex");
      const password = `pw-${randomBytes(8).toString("hex")}`;
      const headers = { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`, authorization: `Basic ${Buffer.from(`user:${password}`).toString("base64")}` };
      const base = `http://127.0.0.1:${registry.port}/v2/fixed/logged`;
      const manifest = await fetch(`${base}/manifests/latest`, { headers });
      assert.equal(manifest.status, 200);
      await manifest.arrayBuffer();
      const blob = await fetch(`${base}/blobs/${digest}`, { headers });
      assert.equal(blob.status, 503);
      await blob.arrayBuffer();

      await waitUntil("both access log lines", async () => registry.logLines().filter((l) => l["msg"] === "request").length >= 2);
      const traced = registry.logLines().filter((l) => l["trace_id"] === traceId);
      const accessLines = traced.filter((l) => l["msg"] === "request");
      assert.equal(accessLines.length, 2, "both requests' access log lines carry the runtime's trace id");
      for (const line of accessLines) assert.match(String(line["span_id"]), /^[0-9a-f]{16}$/);
      const [manifestLine, blobLine] = accessLines;
      assert.equal(manifestLine?.["repository"], "fixed/logged");
      assert.match(String(manifestLine?.["digest"]), /^sha256:/);
      assert.equal(blobLine?.["source"], "content");
      assert.equal(blobLine?.["status"], 503);
      assert.ok(traced.some((l) => l["msg"] === "request failed"), "the failure's own line is in the trace too");

      const everything = registry.process.log;
      assert.ok(!everything.includes(signature), "a content URL's signature is never logged");
      assert.ok(!everything.includes(password) && !everything.includes(headers.authorization), "the client's credentials are never logged");
    } finally {
      await registry.stop();
    }
  } finally {
    await upstream.dispose();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
