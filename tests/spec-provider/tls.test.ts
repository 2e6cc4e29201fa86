import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { credentials, status as Code } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../../gen/facade/manage/v1/manage.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { makeCertificates } from "../support/certificates.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { failure } from "./helpers.ts";

/** specProvider.tls with a ca: only clients with a certificate that CA signed get in. */

const run = promisify(execFile);
let dir: string;
let sp: TestSpecProvider;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-tls-"));
  await makeCertificates(dir, { servers: ["server"], clients: ["client"] });
  sp = await startTestSpecProvider({ specProvider: { tls: { crt: join(dir, "server.crt"), key: join(dir, "server.key"), ca: join(dir, "ca.crt") } } });
});

after(async () => {
  await sp.stop();
  await rm(dir, { recursive: true, force: true });
});

const file = (name: string) => readFile(join(dir, name));

test("a client with a certificate from the CA is served over TLS", async () => {
  const client = new SpecManagementServiceClient(sp.address, credentials.createSsl(await file("ca.crt"), await file("client.key"), await file("client.crt")));
  try {
    const { stored } = await unaryCall(client.putSpec.bind(client), { id: "ws-tls", spec: { baseRef: "alpine", ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [] } });
    assert.equal(stored?.id, "ws-tls");
  } finally {
    client.close();
  }
});

test("facadectl speaks mutual TLS with --tls-ca, --tls-cert and --tls-key", async () => {
  const facadectl = fileURLToPath(new URL("../../bin/facadectl.js", import.meta.url));
  const tls = ["--tls-ca", join(dir, "ca.crt"), "--tls-cert", join(dir, "client.crt"), "--tls-key", join(dir, "client.key")];
  const { stdout } = await run(process.execPath, [facadectl, "put", "ws-cli-tls", "--base", "alpine", "--json", "--addr", sp.address, ...tls]);
  assert.equal(JSON.parse(stdout).id, "ws-cli-tls");
});

test("a client without a certificate, or without TLS, is turned away", async () => {
  for (const creds of [credentials.createSsl(await file("ca.crt")), credentials.createInsecure()]) {
    const client = new SpecManagementServiceClient(sp.address, creds);
    try {
      const result = await failure(unaryCall(client.getSpec.bind(client), { id: "ws-tls" }, { deadline: Date.now() + 5000 }));
      assert.equal(result.code, Code.UNAVAILABLE);
    } finally {
      client.close();
    }
  }
});
