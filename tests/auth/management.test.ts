import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status as Code, type ChannelCredentials } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../../gen/facade/manage/v1/manage.ts";
import { SpecProviderClient } from "../../gen/registryfacade/provider.ts";
import { parseConfig } from "../../services/shared/config/load.ts";
import { bearerToken, unaryCall } from "../../services/shared/grpc/client.ts";
import { startSpecProvider } from "../../services/spec-provider/src/index.ts";
import { makeCertificates } from "../support/certificates.ts";
import { facadectl } from "../support/facadectl.ts";
import { image, layer } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { failure, spec } from "../spec-provider/helpers.ts";
import { eventually, startFacade } from "./fixture.ts";

/**
 * specProvider.auth: the management API only for the workspace manager
 * (a bearer token, or its client certificate), GetImageSpec for it and the
 * registry. One provider takes tokens over plaintext, one mutual TLS.
 */
const MANAGER_TOKEN = "manager-token-9021034";
const READER_TOKEN = "reader-token-8873463";
const logs = new LogCapture();
let dir: string;
let upstream: UpstreamRegistry;
let baseRef: string;
let tokens: TestSpecProvider;
let mtls: TestSpecProvider;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-manage-auth-"));
  await makeCertificates(dir, { servers: ["spec-provider"], clients: ["workspace-manager", "registry", "intruder"] });
  await writeFile(join(dir, "manager-token"), `${MANAGER_TOKEN}\n`);
  await writeFile(join(dir, "reader-token"), `${READER_TOKEN}\n`);
  upstream = await UpstreamRegistry.start();
  baseRef = await upstream.pushImage("base/plain", "1", image({ family: "oci", layers: [await layer([{ path: "a.txt", content: "a\n" }])] }));
  tokens = await startTestSpecProvider({
    specProvider: { auth: { manage: { tokenFile: join(dir, "manager-token") }, read: { tokenFile: join(dir, "reader-token") } } },
    logger: logs.logger("spec-provider"),
  });
  mtls = await startTestSpecProvider({
    specProvider: {
      tls: { crt: join(dir, "spec-provider.crt"), key: join(dir, "spec-provider.key"), ca: join(dir, "ca.crt") },
      auth: { manage: { clientNames: ["workspace-manager"] }, read: { clientNames: ["registry"] } },
    },
    logger: logs.logger("spec-provider"),
  });
});

after(async () => {
  await tokens?.stop();
  await mtls?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const withToken = (token: string) => ({ interceptors: [bearerToken(token)] });
const tlsAs = async (name: string): Promise<ChannelCredentials> =>
  credentials.createSsl(await readFile(join(dir, "ca.crt")), await readFile(join(dir, `${name}.key`)), await readFile(join(dir, `${name}.crt`)));

async function put(client: SpecManagementServiceClient, id: string): Promise<void> {
  await unaryCall(client.putSpec.bind(client), { id, spec: spec({ baseRef }) }, { deadline: Date.now() + 5000 });
}

test("tokens: no token or a wrong one is UNAUTHENTICATED, the read token PERMISSION_DENIED, the manager's token works", async () => {
  const cases: Array<[string, object, Code | undefined]> = [
    ["none", {}, Code.UNAUTHENTICATED],
    ["wrong", withToken("not-a-valid-token"), Code.UNAUTHENTICATED],
    ["reader", withToken(READER_TOKEN), Code.PERMISSION_DENIED],
    ["manager", withToken(MANAGER_TOKEN), undefined],
  ];
  for (const [who, options, expected] of cases) {
    const client = new SpecManagementServiceClient(tokens.address, credentials.createInsecure(), options);
    try {
      if (expected === undefined) {
        await put(client, "ws-token");
        const { stored } = await unaryCall(client.getSpec.bind(client), { id: "ws-token" });
        assert.equal(stored?.spec?.baseRef, baseRef);
        continue;
      }
      assert.equal((await failure(put(client, "ws-token"))).code, expected, `${who}: put`);
      assert.equal((await failure(unaryCall(client.getSpec.bind(client), { id: "ws-token" }))).code, expected, `${who}: get`);
      assert.equal((await failure(unaryCall(client.listSpecs.bind(client), { pageSize: 10, pageToken: "" }))).code, expected, `${who}: list`);
      assert.equal((await failure(unaryCall(client.deleteSpec.bind(client), { id: "ws-token" }))).code, expected, `${who}: delete`);
      const stream = client.watchSpecs({ includeInitial: true });
      const code = await new Promise((resolve) => stream.once("error", (e: Error & { code?: Code }) => resolve(e.code)));
      assert.equal(code, expected, `${who}: watch`);
    } finally {
      client.close();
    }
  }
});

test("tokens: GetImageSpec needs the read token or the manager's", async () => {
  for (const [options, expected] of [
    [{}, Code.UNAUTHENTICATED],
    [withToken("not-a-valid-token"), Code.UNAUTHENTICATED],
    [withToken(READER_TOKEN), Code.OK],
    [withToken(MANAGER_TOKEN), Code.OK],
  ] as const) {
    const client = new SpecProviderClient(tokens.address, credentials.createInsecure(), options);
    try {
      const call = unaryCall(client.getImageSpec.bind(client), { id: "ws-token" });
      if (expected === Code.OK) assert.equal((await call).spec?.baseRef, baseRef);
      else assert.equal((await failure(call)).code, expected);
    } finally {
      client.close();
    }
  }
});

test("facadectl: refused without a token, works with --token or FACADECTL_TOKEN", async () => {
  const refused = await facadectl("put", "ws-cli", "--base", baseRef, "--addr", tokens.address);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /UNAUTHENTICATED/);
  const withFlag = await facadectl("put", "ws-cli", "--base", baseRef, "--addr", tokens.address, "--token", MANAGER_TOKEN, "--json");
  assert.equal(withFlag.code, 0, withFlag.stderr);
  assert.equal(JSON.parse(withFlag.stdout).id, "ws-cli");
  process.env["FACADECTL_TOKEN"] = MANAGER_TOKEN;
  try {
    const withEnv = await facadectl("delete", "ws-cli", "--addr", tokens.address);
    assert.equal(withEnv.code, 0, withEnv.stderr);
  } finally {
    delete process.env["FACADECTL_TOKEN"];
  }
});

test("the registry sends its read token (remoteSpecProvider[].tokenFile); without it a pull is 503, never served unauthenticated", async () => {
  const facade = await startFacade({ registry: { store: join(dir, "store-token"), remoteSpecProvider: [{ addr: tokens.address, tokenFile: join(dir, "reader-token") }] } }, logs.logger("registry"));
  const anonymous = await startFacade({ registry: { store: join(dir, "store-anon"), remoteSpecProvider: [{ addr: tokens.address }], specProviderTimeoutMs: 2000 } }, logs.logger("registry"));
  try {
    const res = await fetch(`${facade.url}/v2/remote/ws-token/manifests/latest`);
    assert.equal(res.status, 200, await res.clone().text());
    const refused = await fetch(`${anonymous.url}/v2/remote/ws-token/manifests/latest`);
    assert.equal(refused.status, 503);
  } finally {
    await facade.registry.stop();
    await anonymous.registry.stop();
  }
});

test("the registry's read token rotates without a restart: it re-reads its tokenFile while the provider accepts old and new", async () => {
  const [oldToken, newToken] = ["rotating-token-old-5521", "rotating-token-new-7734"];
  const providerTokens = join(dir, "rotating-provider-tokens");
  const registryToken = join(dir, "rotating-registry-token");
  await writeFile(providerTokens, `${oldToken}\n`);
  await writeFile(registryToken, `${oldToken}\n`);
  const provider = await startTestSpecProvider({
    specProvider: { auth: { manage: { tokenFile: join(dir, "manager-token") }, read: { tokenFile: providerTokens } } },
    logger: logs.logger("spec-provider"),
  });
  const manager = new SpecManagementServiceClient(provider.address, credentials.createInsecure(), withToken(MANAGER_TOKEN));
  const facade = await startFacade({ registry: { store: join(dir, "store-rotate"), remoteSpecProvider: [{ addr: provider.address, tokenFile: registryToken }], specProviderTimeoutMs: 2000 } }, logs.logger("registry"));
  const reloads = (what: string) => logs.lines.filter((l) => l.includes("reloaded after a file change") && l.includes(what)).length;
  const rewrite = async (file: string, text: string, what: string) => {
    const before = reloads(what);
    await writeFile(file, text);
    await eventually(`${what} reloaded`, async () => assert.ok(reloads(what) > before));
  };
  const pull = async (id: string) => {
    await put(manager, id);
    return (await fetch(`${facade.url}/v2/remote/${id}/manifests/latest`)).status;
  };
  try {
    assert.equal(await pull("ws-rotate-1"), 200);
    await rewrite(providerTokens, `${newToken}\n${oldToken}\n`, "specProvider.auth.read.tokenFile");
    await rewrite(registryToken, `${newToken}\n`, "spec-provider token");
    await rewrite(providerTokens, `${newToken}\n`, "specProvider.auth.read.tokenFile");
    assert.equal(await pull("ws-rotate-2"), 200, "the registry sends the new token");
  } finally {
    manager.close();
    await facade.registry.stop();
    await provider.stop();
  }
});

test("mutual TLS: the workspace manager's certificate manages; the registry's only reads; another certificate from the CA neither", async () => {
  const manager = new SpecManagementServiceClient(mtls.address, await tlsAs("workspace-manager"));
  const registryAsManager = new SpecManagementServiceClient(mtls.address, await tlsAs("registry"));
  const intruder = new SpecManagementServiceClient(mtls.address, await tlsAs("intruder"));
  const registryReader = new SpecProviderClient(mtls.address, await tlsAs("registry"));
  const intruderReader = new SpecProviderClient(mtls.address, await tlsAs("intruder"));
  try {
    await put(manager, "ws-mtls");
    assert.equal((await failure(put(registryAsManager, "ws-mtls"))).code, Code.PERMISSION_DENIED);
    const denied = await failure(put(intruder, "ws-mtls"));
    assert.equal(denied.code, Code.PERMISSION_DENIED);
    assert.match(denied.message, /intruder/);
    assert.equal((await unaryCall(registryReader.getImageSpec.bind(registryReader), { id: "ws-mtls" })).spec?.baseRef, baseRef);
    assert.equal((await failure(unaryCall(intruderReader.getImageSpec.bind(intruderReader), { id: "ws-mtls" }))).code, Code.PERMISSION_DENIED);
  } finally {
    for (const c of [manager, registryAsManager, intruder, registryReader, intruderReader]) c.close();
  }

  // The registry over mutual TLS with its own certificate.
  const tls = { ca: join(dir, "ca.crt"), crt: join(dir, "registry.crt"), key: join(dir, "registry.key") };
  const facade = await startFacade({ registry: { store: join(dir, "store-mtls"), remoteSpecProvider: [{ addr: mtls.address, tls }] } }, logs.logger("registry"));
  try {
    const res = await fetch(`${facade.url}/v2/remote/ws-mtls/manifests/latest`);
    assert.equal(res.status, 200, await res.clone().text());
  } finally {
    await facade.registry.stop();
  }
});

test("client names without mutual TLS refuse to start: no client could ever present a certificate", async () => {
  const config = parseConfig({ specProvider: { port: 0, store: { type: "file", path: join(dir, "specs-x") }, auth: { manage: { clientNames: ["workspace-manager"] } } } });
  await assert.rejects(startSpecProvider(config, logs.logger("spec-provider")), /clientNames need specProvider.tls.ca/);
  assert.throws(() => parseConfig({ specProvider: { auth: { manage: {} } } }), /specProvider.auth.manage: set tokenFile or clientNames/);
});

test("no token appears in any log line of this file", () => {
  logs.assertNoSecrets([MANAGER_TOKEN, READER_TOKEN]);
});
