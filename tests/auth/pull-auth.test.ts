import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { SpecManagementServiceClient, type PullCredential } from "../../gen/facade/manage/v1/manage.ts";
import { bearerToken, unaryCall } from "../../services/shared/grpc/client.ts";
import { facadectl } from "../support/facadectl.ts";
import { image, layer, type BuiltImage } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { readLayout, run } from "../support/oci-clients.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { eventually, startFacade } from "./fixture.ts";

const exec = promisify(execFile);

/**
 * registry.requireAuth against real clients: operators from an htpasswd
 * file, workspaces with the credential PutSpec handed out. The spec-provider
 * also requires tokens (a manager's for PutSpec, the registry's read token
 * for GetImageSpec), so the whole chain runs authenticated.
 */
const OPERATOR_PASSWORD = "operator-password-5772";
const SECRET = "workspace-secret-0123456789abcdef";
const MANAGER_TOKEN = "manager-token-1618033988";
const READER_TOKEN = "reader-token-2236067977";
const logs = new LogCapture();
let dir: string;
let upstream: UpstreamRegistry;
let provider: TestSpecProvider;
let facade: Awaited<ReturnType<typeof startFacade>>;
let base: BuiltImage;
let baseRef: string;
const creds: Record<string, PullCredential> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-pull-auth-"));
  upstream = await UpstreamRegistry.start();
  base = image({ family: "oci", layers: [await layer([{ path: "hello.txt", content: "hello\n" }])] });
  baseRef = await upstream.pushImage("base/plain", "1", base);

  const file = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  const secretFile = await file("workspace-secret", `${SECRET}\n`);
  const readerFile = await file("reader-token", `${READER_TOKEN}\n`);
  provider = await startTestSpecProvider({
    specProvider: { workspaceSecretFile: secretFile, auth: { manage: { tokenFile: await file("manager-token", MANAGER_TOKEN) }, read: { tokenFile: readerFile } } },
    logger: logs.logger("spec-provider"),
  });
  const manager = new SpecManagementServiceClient(provider.address, credentials.createInsecure(), { interceptors: [bearerToken(MANAGER_TOKEN)] });
  try {
    for (const id of ["ws-a", "ws-b"]) {
      const spec = { baseRef, ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [] };
      const { stored, pullCredential } = await unaryCall(manager.putSpec.bind(manager), { id, spec });
      assert.equal(stored?.id, id);
      creds[id] = pullCredential!;
    }
  } finally {
    manager.close();
  }
  const { stdout } = await exec("htpasswd", ["-Bbn", "operator", OPERATOR_PASSWORD]);
  const specs = join(dir, "specs.json");
  await writeFile(specs, JSON.stringify({ dev: { baseRef } }));
  facade = await startFacade(
    {
      registry: {
        store: join(dir, "store"),
        fixedSpecFN: specs,
        requireAuth: true,
        htpasswd: await file("htpasswd", stdout),
        workspaceSecretFile: secretFile,
        remoteSpecProvider: [{ addr: provider.address, tokenFile: readerFile }],
      },
    },
    logs.logger("registry"),
  );
});

after(async () => {
  await facade?.registry.stop();
  await provider?.stop();
  await upstream?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

async function status(path: string, headers: Record<string, string> = {}): Promise<{ status: number; code: string | undefined; challenge: string | null }> {
  const res = await fetch(`${facade.url}${path}`, { headers });
  const body = (await res.json()) as { errors?: Array<{ code: string }> };
  return { status: res.status, code: body.errors?.[0]?.code, challenge: res.headers.get("www-authenticate") };
}

async function skopeoCopy(name: string, user: string, password: string): Promise<string> {
  const layout = await mkdtemp(join(dir, "oci-"));
  await run("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", `${user}:${password}`, `docker://${facade.host}/${name}:latest`, `oci:${layout}:tag`]);
  return layout;
}

test("PutSpec answers with a pull credential for that workspace", () => {
  assert.equal(creds["ws-a"]?.username, "ws-a");
  assert.equal(creds["ws-b"]?.username, "ws-b");
  assert.ok((creds["ws-a"]?.password.length ?? 0) >= 32);
  assert.notEqual(creds["ws-a"]?.password, creds["ws-b"]?.password);
});

test("without credentials, every request is 401 UNAUTHORIZED with a Basic challenge, the GET /v2/ probe included", async () => {
  for (const path of ["/v2/", "/v2/remote/ws-a/manifests/latest", `/v2/remote/ws-a/blobs/${base.layers[0]!.digest}`, "/v2/nothing/here", "/v2/remote/ws-a/blobs/uploads/", "/V2/remote/ws-a/manifests/latest", "/elsewhere"]) {
    const res = await status(path);
    assert.deepEqual([res.status, res.code], [401, "UNAUTHORIZED"], path);
    assert.match(res.challenge ?? "", /^Basic realm="registry-facade"/);
  }
});

test("wrong credentials are 401 UNAUTHORIZED: a wrong password, an unknown user, a workspace password for another id, garbage", async () => {
  const wrong = [
    basic("operator", "not-the-password"),
    basic("nobody", OPERATOR_PASSWORD),
    basic("ws-b", creds["ws-a"]!.password),
    basic("ws-a", creds["ws-a"]!.password.slice(1)),
    { authorization: "Bearer something" },
    { authorization: "Basic !!!" },
  ];
  for (const headers of wrong) {
    const res = await status("/v2/remote/ws-a/manifests/latest", headers);
    assert.deepEqual([res.status, res.code], [401, "UNAUTHORIZED"], headers.authorization);
  }
  await assert.rejects(skopeoCopy("remote/ws-a", "operator", "not-the-password"), /401|unauthorized/i);
  await assert.rejects(run("skopeo", ["inspect", "--tls-verify=false", "--no-creds", `docker://${facade.host}/remote/ws-a:latest`]), /401|unauthorized|authentication required/i);
});

test("skopeo with an operator's htpasswd credentials pulls any repository", async () => {
  for (const name of ["remote/ws-a", "remote/ws-b", "fixed/dev"]) {
    const { manifest } = await readLayout(await skopeoCopy(name, "operator", OPERATOR_PASSWORD));
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      base.layers.map((l) => l.digest),
    );
  }
});

test("skopeo with a workspace credential pulls that workspace; another workspace or a fixed name is 403 DENIED", async () => {
  const a = creds["ws-a"]!;
  const { manifest } = await readLayout(await skopeoCopy("remote/ws-a", a.username, a.password));
  assert.equal(manifest.layers[0]?.digest, base.layers[0]!.digest);
  assert.deepEqual(await status("/v2/", basic(a.username, a.password)), { status: 200, code: undefined, challenge: null });

  // The names the router would serve, however the path spells them.
  const otherNames = [
    "/v2/remote/ws-b/manifests/latest",
    `/v2/remote/ws-b/blobs/${base.layers[0]!.digest}`,
    "/v2/fixed/dev/manifests/latest",
    "/v2/remote/ws-a/extra/manifests/latest",
    "/V2/remote/ws-b/manifests/latest",
    "/v2/remote/ws-b/manifests/latest/",
    "/v2/remote/ws%2Db/manifests/latest",
    "/v2//remote/ws-a/manifests/latest",
  ];
  for (const path of otherNames) {
    const res = await status(path, basic(a.username, a.password));
    assert.deepEqual([res.status, res.code], [403, "DENIED"], path);
  }
  // Its own name however spelt; no route, nothing served.
  assert.equal((await status("/v2/remote/ws%2Da/manifests/latest", basic(a.username, a.password))).status, 200);
  assert.equal((await status("/v2/_catalog", basic(a.username, a.password))).status, 404);
  await assert.rejects(skopeoCopy("remote/ws-b", a.username, a.password), /403|denied/i);
});

test("an operator added to the htpasswd file can pull without a restart", async () => {
  const { stdout } = await exec("htpasswd", ["-Bbn", "second", "second-password-1414"]);
  const { stdout: first } = await exec("htpasswd", ["-Bbn", "operator", OPERATOR_PASSWORD]);
  await writeFile(join(dir, "htpasswd"), `${first.trim()}\n${stdout}`);
  await eventually("the new operator accepted", async () => assert.equal((await status("/v2/remote/ws-b/manifests/latest", basic("second", "second-password-1414"))).status, 200));
});

test("facadectl put prints the pull credential (human and JSON), and it pulls that workspace", async () => {
  const human = await facadectl("put", "ws-cli", "--base", baseRef, "--addr", provider.address, "--token", MANAGER_TOKEN);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^pull user +ws-cli$/m);
  const password = /^pull pass +(\S+)$/m.exec(human.stdout)?.[1] ?? "";
  const json = await facadectl("put", "ws-cli", "--base", baseRef, "--addr", provider.address, "--token", MANAGER_TOKEN, "--json");
  assert.deepEqual(JSON.parse(json.stdout).pullCredential, { username: "ws-cli", password });
  creds["ws-cli"] = { username: "ws-cli", password };
  assert.equal((await status("/v2/remote/ws-cli/manifests/latest", basic("ws-cli", password))).status, 200);
});

test("no password, token or workspace credential appears in any log line of this file", () => {
  logs.assertNoSecrets([OPERATOR_PASSWORD, SECRET, MANAGER_TOKEN, READER_TOKEN, "second-password-1414", creds["ws-a"]!.password, creds["ws-b"]!.password, creds["ws-cli"]!.password, Buffer.from(`operator:${OPERATOR_PASSWORD}`).toString("base64")]);
});
