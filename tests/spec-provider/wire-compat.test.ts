import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, loadPackageDefinition, status as Code, type GrpcObject, type ServiceClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startTestSpecProvider } from "../support/spec-provider.ts";
import { DIGEST_A, DIGEST_B } from "./helpers.ts";
import { tarOf } from "./tar.ts";

/**
 * Gitpod's message layout, written out independently of proto/ (as a Gitpod
 * client would have it): a client built from it at run time with
 * proto-loader must read every field the spec-provider serves.
 */
const GITPOD_PROTO = `
syntax = "proto3";
package registryfacade;

service SpecProvider {
  rpc GetImageSpec(GetImageSpecRequest) returns (GetImageSpecResponse) {}
}
message GetImageSpecRequest { string id = 1; }
message GetImageSpecResponse { ImageSpec spec = 1; }
message ImageSpec {
  string base_ref = 1;
  string ide_ref = 2;
  repeated ContentLayer content_layer = 3;
  reserved 4;
  string supervisor_ref = 5;
  reserved 6;
  repeated string ide_layer_ref = 7;
}
message ContentLayer {
  oneof spec {
    RemoteContentLayer remote = 1;
    DirectContentLayer direct = 2;
  }
}
message RemoteContentLayer {
  string url = 1;
  string digest = 2;
  string diff_id = 3;
  string media_type = 4;
  int64 size = 5;
}
message DirectContentLayer { bytes content = 1; }
`;

test("a client built with proto-loader from Gitpod's layout decodes every field of GetImageSpec", async () => {
  const dir = await mkdtemp(join(tmpdir(), "facade-gitpod-proto-"));
  const sp = await startTestSpecProvider();
  try {
    const protoFile = join(dir, "gitpod-imagespec.proto");
    await writeFile(protoFile, GITPOD_PROTO);
    const definition = loadSync(protoFile, { keepCase: true, longs: String, defaults: true, oneofs: true });
    const pkg = loadPackageDefinition(definition).registryfacade as GrpcObject;
    const SpecProvider = pkg.SpecProvider as ServiceClientConstructor;
    const client = new SpecProvider(sp.address, credentials.createInsecure());

    const content = await tarOf({ "workspace/hello.txt": "hello" });
    // Above 2^53: a lossy number anywhere on the way would change it.
    const size = 2n ** 53n + 3n;
    await sp.put("ws-gitpod", {
      baseRef: "docker.io/library/ubuntu:24.04",
      ideRef: "ghcr.io/acme/ide:1.2",
      supervisorRef: "ghcr.io/acme/supervisor:3",
      ideLayerRef: ["ghcr.io/acme/tool-a:1", "ghcr.io/acme/tool-b:2"],
      contentLayer: [
        { spec: { $case: "remote", value: { url: "https://blobs.example/content.tar.gz", digest: DIGEST_A, diffId: DIGEST_B, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size } } },
        { spec: { $case: "direct", value: { content } } },
      ],
    });

    const call = (id: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) =>
        client.GetImageSpec!({ id }, (err: ServiceError | null, response: Record<string, unknown>) => (err ? reject(err) : resolve(response))),
      );
    const response = await call("ws-gitpod");
    assert.deepEqual(response, {
      spec: {
        base_ref: "docker.io/library/ubuntu:24.04",
        ide_ref: "ghcr.io/acme/ide:1.2",
        supervisor_ref: "ghcr.io/acme/supervisor:3",
        ide_layer_ref: ["ghcr.io/acme/tool-a:1", "ghcr.io/acme/tool-b:2"],
        content_layer: [
          {
            spec: "remote",
            remote: { url: "https://blobs.example/content.tar.gz", digest: DIGEST_A, diff_id: DIGEST_B, media_type: "application/vnd.oci.image.layer.v1.tar+gzip", size: size.toString() },
          },
          { spec: "direct", direct: { content } },
        ],
      },
    });
    await assert.rejects(call("ws-missing"), (err: ServiceError) => err.code === Code.NOT_FOUND);
    client.close();
  } finally {
    await sp.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
