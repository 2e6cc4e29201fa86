import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RegistryError } from "../../services/registry/src/errors.ts";
import { UpstreamClient } from "../../services/registry/src/upstream/client.ts";
import { DockerConfigCredentials } from "../../services/registry/src/upstream/docker-config.ts";
import { TokenAuth } from "../../services/registry/src/upstream/token-auth.ts";
import { image, layer, sha256, type BuiltImage } from "../support/images.ts";
import { LogCapture } from "../support/log-capture.ts";
import { readLayout, run } from "../support/oci-clients.ts";
import { TokenIssuer } from "../support/token-issuer.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";
import { eventually, RecordingFileServer, startFacade } from "./fixture.ts";

/**
 * The distribution registry with `auth: token`, pointed at a token issuer
 * this file runs, its blobs redirected to another origin (as object storage
 * does). Everything the registry logs during the file is captured and
 * checked for secrets at the end.
 */
const PASSWORD = "token-flow-password-3141";
const REFRESH = "identity-refresh-token-2718";
const logs = new LogCapture();
let dir: string;
let issuer: TokenIssuer;
let files: RecordingFileServer;
let upstream: UpstreamRegistry;
let base: BuiltImage;
let ide: BuiltImage;
let hostile: Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "facade-token-"));
  issuer = await TokenIssuer.start({ dir, users: { puller: PASSWORD }, refreshToken: REFRESH });
  files = await RecordingFileServer.start();
  upstream = await UpstreamRegistry.start({
    token: { realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, rootCertBundle: issuer.certFile, push: (repo) => issuer.mint(repo) },
    redirectTo: files.url,
  });
  files.root = upstream.dataDir;
  base = image({ family: "oci", layers: [await layer([{ path: "base.txt", content: "private base\n" }]), await layer([{ path: "more.txt", content: "more\n" }])] });
  ide = image({ family: "docker", layers: [await layer([{ type: "dir", path: "ide/" }, { path: "ide/bin", content: "private ide\n" }])] });
  await upstream.pushImage("private/base", "1", base);
  await upstream.pushImage("private/ide", "1", ide);
  // An upstream that names the cloud metadata service as its token realm (in the second of two challenge headers).
  hostile = createServer((_req, res) => res.writeHead(401, [["www-authenticate", 'Basic realm="hostile"'], ["www-authenticate", 'Bearer realm="http://169.254.169.254/latest/meta-data/iam",service="x"']]).end());
  hostile.listen(0, "127.0.0.1");
  await once(hostile, "listening");
});

after(async () => {
  await upstream?.dispose();
  await files?.stop();
  await issuer?.stop();
  hostile?.close();
  await rm(dir, { recursive: true, force: true });
});

const auth = (config: unknown) => writeFile(join(dir, "config.json"), JSON.stringify(config));
const basicAuth = (password: string) => ({ auths: { [upstream.host]: { auth: Buffer.from(`puller:${password}`).toString("base64") } } });
const repo = (repository: string) => ({ host: upstream.host, repository });

/** An upstream client with its own token cache and the credentials in config.json. */
async function client(): Promise<{ client: UpstreamClient; close(): Promise<void> }> {
  const credentials = await DockerConfigCredentials.open(join(dir, "config.json"), logs.logger("registry"));
  const tokenAuth = new TokenAuth({ credentials, insecureRegistries: [], logger: logs.logger("registry") });
  const upstreamClient = new UpstreamClient({ insecureRegistries: [], auth: tokenAuth });
  return {
    client: upstreamClient,
    async close() {
      await upstreamClient.close();
      await tokenAuth.close();
    },
  };
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("skopeo pulls an image composed of a private base and a private add-on; one token per repository, reused for every blob", async () => {
  await auth(basicAuth(PASSWORD));
  const specs = join(dir, "specs.json");
  await writeFile(specs, JSON.stringify({ private: { baseRef: `${upstream.host}/private/base:1`, ideRef: `${upstream.host}/private/ide:1` } }));
  const store = await mkdtemp(join(dir, "store-"));
  const facade = await startFacade({ dockerAuth: join(dir, "config.json"), registry: { store, fixedSpecFN: specs } }, logs.logger("registry"));
  const before = issuer.requests.length;
  try {
    const layout = await mkdtemp(join(dir, "oci-"));
    await run("skopeo", ["copy", "--src-tls-verify=false", `docker://${facade.host}/fixed/private:latest`, `oci:${layout}:tag`]);
    const { manifest } = await readLayout(layout);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      [...base.layers, ...ide.layers].map((l) => l.digest),
    );
  } finally {
    await facade.registry.stop();
  }
  const requests = issuer.requests.slice(before);
  assert.deepEqual(
    // Base and add-on are resolved concurrently: their order is not fixed.
    requests.map((r) => [r.method, r.who, r.scopes.join(" "), r.status]).sort((a, b) => String(a[2]).localeCompare(String(b[2]))),
    [
      ["GET", "basic:puller", "repository:private/base:pull", 200],
      ["GET", "basic:puller", "repository:private/ide:pull", 200],
    ],
  );
  // The blobs came from the other origin, and the bearer token stayed home.
  const blobRequests = files.requests.filter((r) => r.path.includes("/blobs/"));
  assert.ok(blobRequests.length >= base.layers.length + ide.layers.length, `blob requests at the storage origin: ${blobRequests.length}`);
  for (const r of files.requests) assert.equal(r.headers.authorization, undefined, `Authorization sent to ${r.path}`);
});

test("a token is refreshed when it expires, and requests for one key share one token request", async () => {
  await auth(basicAuth(PASSWORD));
  const { client: c, close } = await client();
  // Long enough that the second lookup comes before expiry on a loaded machine too.
  issuer.expiresIn = 3;
  try {
    const before = issuer.requests.length;
    await c.resolveTag(repo("private/base"), "1");
    await c.resolveTag(repo("private/base"), "1");
    assert.equal(issuer.requests.length - before, 1, "the second request reused the token");
    await sleep(3_100);
    await c.resolveTag(repo("private/base"), "1");
    assert.equal(issuer.requests.length - before, 2, "the expired token was replaced");
    // Ten concurrent first requests for another repository: one token request.
    await Promise.all(Array.from({ length: 10 }, () => c.resolveTag(repo("private/ide"), "1")));
    assert.equal(issuer.requests.length - before, 3);
  } finally {
    issuer.expiresIn = 300;
    await close();
  }
});

test("a token the registry refuses although it has not expired here (a download that starts after expiry) is replaced and the request retried once", async () => {
  await auth(basicAuth(PASSWORD));
  const { client: c, close } = await client();
  try {
    await c.resolveTag(repo("private/base"), "1");
    const before = issuer.requests.length;
    // The next token handed out is already expired upstream.
    issuer.expiredTokens = 1;
    await c.resolveTag(repo("private/ide"), "1");
    assert.equal(issuer.requests.length - before, 2);
    const digest = ide.layers[0]!.digest;
    const blob = await c.openBlob(repo("private/ide"), digest);
    assert.equal(sha256(await readAll(blob)), digest);
    assert.equal(issuer.requests.length - before, 2, "the good token is reused for the blob");
  } finally {
    await close();
  }
});

test("a new challenge's scope is merged into the repository's token (scopes with commas survive)", async () => {
  await auth(basicAuth(PASSWORD));
  const tokenAuth = new TokenAuth({ credentials: await DockerConfigCredentials.open(join(dir, "config.json"), logs.logger("registry")), insecureRegistries: [], logger: logs.logger("registry") });
  try {
    const scope = repo("private/base");
    const challenge = (s: string) => `Bearer realm="${issuer.realm}",service="${issuer.service}",scope="${s}"`;
    assert.equal(await tokenAuth.challenge(scope, challenge("repository:private/base:pull")), true);
    assert.deepEqual(issuer.requests.at(-1)?.scopes, ["repository:private/base:pull"]);
    assert.equal(await tokenAuth.challenge(scope, challenge("repository:private/base:pull,push repository:private/ide:pull")), true);
    assert.deepEqual(issuer.requests.at(-1)?.scopes, ["repository:private/base:pull", "repository:private/base:pull,push", "repository:private/ide:pull"]);
    assert.match((await tokenAuth.headers(scope))["authorization"] ?? "", /^Bearer /);
  } finally {
    await tokenAuth.close();
  }
});

test("an identity token is exchanged with the OAuth2 refresh-token POST (access_token, no expires_in)", async () => {
  await auth({ auths: { [upstream.host]: { identitytoken: REFRESH } } });
  issuer.expiresIn = undefined;
  const { client: c, close } = await client();
  try {
    assert.equal(await c.resolveTag(repo("private/base"), "1"), base.manifestDigest);
    const last = issuer.requests.at(-1);
    assert.deepEqual([last?.method, last?.who, last?.status], ["POST", "refresh", 200]);
  } finally {
    issuer.expiresIn = 300;
    await close();
  }
});

test("a credential helper (credHelpers, then credsStore) is asked with the server URL on stdin", async () => {
  const bin = join(dir, "bin");
  await mkdir(bin, { recursive: true });
  const asked = join(dir, "helper-asked.txt");
  const helper = join(bin, "docker-credential-facadetest");
  await writeFile(helper, `#!/bin/sh\n[ "$1" = get ] || exit 2\nread url\necho "$url" >> ${asked}\nprintf '{"ServerURL":"%s","Username":"puller","Secret":"${PASSWORD}"}' "$url"\n`);
  await chmod(helper, 0o755);
  const path = process.env["PATH"];
  process.env["PATH"] = `${bin}:${path}`;
  try {
    for (const config of [{ credHelpers: { [upstream.host]: "facadetest" } }, { credsStore: "facadetest" }]) {
      await auth(config);
      await rm(asked, { force: true });
      const { client: c, close } = await client();
      try {
        assert.equal(await c.resolveTag(repo("private/base"), "1"), base.manifestDigest);
        assert.equal(issuer.requests.at(-1)?.who, "basic:puller");
        assert.equal((await readFile(asked, "utf8")).trim(), upstream.host);
      } finally {
        await close();
      }
    }
  } finally {
    process.env["PATH"] = path;
  }
});

test("dockerAuth is reloaded when it changes: a fixed password works without a restart, a broken file keeps the last good one", async () => {
  await auth(basicAuth("wrong-password-1"));
  const { client: c, close } = await client();
  try {
    await assert.rejects(c.resolveTag(repo("private/base"), "1"), (err: unknown) => err instanceof RegistryError && err.code === "MANIFEST_UNKNOWN" && /denied/.test(err.message));
    assert.deepEqual([issuer.requests.at(-1)?.who, issuer.requests.at(-1)?.status], ["basic:puller", 401]);
    await auth(basicAuth(PASSWORD));
    await eventually("the new password in use", () => c.resolveTag(repo("private/base"), "1"));
    await writeFile(join(dir, "config.json"), `{"auths": {"${upstream.host}": {"password": "half-written-${PASSWORD}`);
    await eventually("the broken file reported", async () => assert.ok(logs.lines.some((l) => l.includes("reload failed") && l.includes("dockerAuth"))));
    assert.equal(await c.resolveTag(repo("private/base"), "1"), base.manifestDigest);
  } finally {
    await close();
  }
});

test("a realm on a link-local or metadata address is refused (502 UPSTREAM_INVALID), not requested", async () => {
  const host = `127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  const specs = join(dir, "hostile-specs.json");
  await writeFile(specs, JSON.stringify({ hostile: { baseRef: `${host}/any/image:1` } }));
  const facade = await startFacade({ registry: { store: await mkdtemp(join(dir, "store-")), fixedSpecFN: specs } }, logs.logger("registry"));
  try {
    const res = await fetch(`${facade.url}/v2/fixed/hostile/manifests/latest`);
    assert.equal(res.status, 502);
    const body = (await res.json()) as { errors: Array<{ code: string; detail: { url: string } }> };
    assert.equal(body.errors[0]?.code, "UPSTREAM_INVALID");
    assert.equal(body.errors[0]?.detail.url, "http://169.254.169.254");
  } finally {
    await facade.registry.stop();
  }
});

test("no password, identity token or issued token appears in any log line of this file", () => {
  logs.assertNoSecrets([PASSWORD, REFRESH, Buffer.from(`puller:${PASSWORD}`).toString("base64"), ...issuer.issued]);
});
