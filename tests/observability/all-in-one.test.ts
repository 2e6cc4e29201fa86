import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { image, layer } from "../support/images.ts";
import { waitUntil } from "../support/process.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { putSpec, startService } from "../support/services.ts";

test("npm start's process serves both services' metrics on one /metrics", async () => {
  const upstream = await UpstreamRegistry.start();
  const dir = await mkdtemp(join(tmpdir(), "facade-aio-"));
  try {
    const baseRef = await upstream.pushImage("aio", "1", image({ family: "oci", layers: [await layer([{ path: "a.txt", content: "a\n" }])] }));
    const service = await startService("all-in-one", { registry: { port: 0, store: join(dir, "store") }, specProvider: { port: 0, store: { type: "file", path: join(dir, "specs") } } });
    try {
      const specProviderPort = Number(service.logLines().find((l) => l["msg"] === "spec-provider listening")?.["port"]);
      await putSpec(`127.0.0.1:${specProviderPort}`, "aio-ws", { baseRef });
      const res = await fetch(`http://127.0.0.1:${service.port}/v2/remote/aio-ws/manifests/latest`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const text = await (await fetch(service.metricsUrl)).text();
      assert.match(text, /^registry_facade_http_requests_total\{route="manifest",method="GET",status="200"\} 1$/m);
      assert.match(text, /^registry_facade_grpc_server_handled_total\{method="PutSpec",code="OK"\} 1$/m);
      assert.match(text, /^registry_facade_grpc_server_handled_total\{method="GetImageSpec",code="OK"\} 1$/m);
      assert.match(text, /^registry_facade_spec_store_specs 1$/m);
      assert.equal(text.match(/^# TYPE registry_facade_process_cpu_seconds_total /gm)?.length, 1, "one registry of metrics, not one per service");
      // The first /ready also dials the spec-provider, within the check's 800 ms deadline; on a
      // loaded machine the dial alone can take longer. A kubelet asks again; so does the test.
      const probe = async () => {
        const res = await fetch(`${service.probeUrl}/ready`);
        return { status: res.status, body: await res.text() };
      };
      let ready = await probe();
      await waitUntil("ready", async () => (ready = await probe()).status === 200).catch(() => undefined);
      assert.equal(ready.status, 200, ready.body);
      await service.process.stop();
      assert.equal(await service.process.exited, 0);
    } finally {
      await service.stop();
    }
  } finally {
    await upstream.dispose();
    await rm(dir, { recursive: true, force: true });
  }
});
