import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseHtpasswd, HtpasswdError } from "../../services/registry/src/auth/htpasswd.ts";
import { RegistryError } from "../../services/registry/src/errors.ts";
import { normaliseRegistryKey, parseDockerConfig, DockerConfigError } from "../../services/registry/src/upstream/docker-config.ts";
import { checkRealm, guardedLookup, isForbiddenAddress } from "../../services/registry/src/upstream/outbound-guard.ts";
import { parseWwwAuthenticate } from "../../services/registry/src/upstream/www-authenticate.ts";
import { isWorkspacePassword, workspaceCredential } from "../../services/shared/workspace-credential.ts";
import { LogCapture } from "../support/log-capture.ts";

const exec = promisify(execFile);

test("WWW-Authenticate: auth-params with quoted commas, several challenges, token68, odd spacing", () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
    { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm="a \\"quoted\\" realm", charset="UTF-8", Bearer realm=https://x/t ,  error=insufficient_scope'), [
    { scheme: "basic", params: { realm: 'a "quoted" realm', charset: "UTF-8" } },
    { scheme: "bearer", params: { realm: "https://x/t", error: "insufficient_scope" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate("Negotiate abc123, Basic realm=r"), [
    { scheme: "negotiate", params: {} },
    { scheme: "basic", params: { realm: "r" } },
  ]);
  assert.deepEqual(parseWwwAuthenticate(""), []);
  assert.deepEqual(parseWwwAuthenticate('BEARER REALM="x", Scope="repository:a:pull repository:b:pull"')[0]?.params, { realm: "x", scope: "repository:a:pull repository:b:pull" });
});

test("realms: http(s) only, plain http only where allowed, no link-local or metadata address", () => {
  const plain = (host: string) => host.startsWith("127.0.0.1");
  assert.equal(checkRealm("https://auth.docker.io/token", plain).host, "auth.docker.io");
  assert.equal(checkRealm("http://127.0.0.1:5001/token", plain).port, "5001");
  assert.equal(checkRealm("https://10.0.0.5/token", plain).hostname, "10.0.0.5");
  for (const realm of [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://169.254.169.254/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://METADATA.google.internal./x",
    "https://[fe80::1]/token",
    "https://[::ffff:169.254.169.254]/token",
    "https://[fd00:ec2::254]/latest",
    "https://0.0.0.0/token",
    "https://100.100.100.200/latest/meta-data",
    "file:///etc/passwd",
    "ftp://auth.example/token",
    "http://auth.example/token",
    "https://user:pw@auth.example/token",
    "not a url",
    "",
  ]) {
    assert.throws(() => checkRealm(realm, plain), (err: unknown) => err instanceof RegistryError && err.code === "UPSTREAM_INVALID" && err.status === 502, realm);
  }
  assert.equal(isForbiddenAddress("169.254.0.1"), true);
  assert.equal(isForbiddenAddress("fe80::abcd"), true);
  assert.equal(isForbiddenAddress("127.0.0.1"), false);
  assert.equal(isForbiddenAddress("192.168.1.10"), false);
  assert.equal(isForbiddenAddress("2001:db8::1"), false);
});

test("the token service's DNS lookup passes ordinary names, in both of the forms net.connect asks for", async () => {
  const one = await new Promise<string>((resolve, reject) => guardedLookup("localhost", { family: 4 }, (err, address) => (err ? reject(err) : resolve(address as string))));
  assert.equal(one, "127.0.0.1");
  const all = await new Promise<unknown>((resolve, reject) => guardedLookup("localhost", { family: 4, all: true } as never, (err, addresses) => (err ? reject(err) : resolve(addresses))));
  assert.deepEqual(all, [{ address: "127.0.0.1", family: 4 }]);
});

test("Docker config.json: auth, username/password, identitytoken, Docker Hub's key, helpers; errors never quote the file", () => {
  const config = parseDockerConfig(
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: Buffer.from("hubuser:hub:pass").toString("base64") },
        "ghcr.io": { username: "gh", password: "ghp" },
        "http://registry.lan:5000/v1/": { identitytoken: "refresh-me", auth: Buffer.from("x:y").toString("base64") },
        "empty.example": {},
      },
      credHelpers: { "gcr.io": "gcloud" },
      credsStore: "desktop",
    }),
  );
  assert.deepEqual(config.auths.get("docker.io"), { kind: "password", username: "hubuser", password: "hub:pass" });
  assert.deepEqual(config.auths.get("ghcr.io"), { kind: "password", username: "gh", password: "ghp" });
  assert.deepEqual(config.auths.get("registry.lan:5000"), { kind: "identityToken", token: "refresh-me" });
  assert.equal(config.auths.has("empty.example"), false);
  assert.deepEqual(config.helpers.get("gcr.io"), { name: "gcloud", serverUrl: "gcr.io" });
  assert.equal(config.credsStore, "desktop");
  for (const host of ["registry-1.docker.io", "index.docker.io", "docker.io", "https://index.docker.io/v1/"]) assert.equal(normaliseRegistryKey(host), "docker.io");
  assert.throws(() => parseDockerConfig('{"auths": {"x": {"password": "hunter2-secret"'), (err: unknown) => err instanceof DockerConfigError && !err.message.includes("hunter2"));
  assert.throws(() => parseDockerConfig(JSON.stringify({ auths: { x: { auth: Buffer.from("no-colon").toString("base64") } } })), /auths\.x\.auth/);
  assert.throws(() => parseDockerConfig(JSON.stringify({ credHelpers: { x: "../../bin/sh" } })), /credHelpers\.x/);
});

test("htpasswd: bcrypt entries only, errors name the line and not its content", async () => {
  const { stdout } = await exec("htpasswd", ["-Bbn", "operator", "pw"]);
  assert.equal(parseHtpasswd(`# operators\n${stdout}\n`).size, 1);
  const md5 = (await exec("htpasswd", ["-mbn", "old", "secret-md5"])).stdout;
  assert.throws(() => parseHtpasswd(`${stdout.trim()}\n${md5}`), (err: unknown) => err instanceof HtpasswdError && /line 2/.test(err.message) && !err.message.includes("old"));
});

test("workspace credentials: bound to the id, checked against every secret (rotation), nothing else passes", () => {
  const secret = "a-secret-of-enough-length";
  const credential = workspaceCredential(secret, "ws-a");
  assert.equal(credential.username, "ws-a");
  assert.equal(isWorkspacePassword([secret], "ws-a", credential.password), true);
  assert.equal(isWorkspacePassword(["the-new-secret-first-line", secret], "ws-a", credential.password), true);
  assert.equal(isWorkspacePassword([secret], "ws-b", credential.password), false);
  assert.equal(isWorkspacePassword(["another-secret-entirely"], "ws-a", credential.password), false);
  assert.equal(isWorkspacePassword([secret], "ws-a", ""), false);
  assert.equal(isWorkspacePassword([secret], "ws-a", `${credential.password}x`), false);
});

test("log redaction blanks credentials in the shapes a careless log call would pass them", () => {
  const capture = new LogCapture();
  capture.logger("units").info(
    { headers: { authorization: "Basic c2VjcmV0LWEx" }, password: "secret-b-22", credential: { password: "secret-c-33" }, token: "secret-d-44", auths: { host: { auth: "secret-e-55" } }, identityToken: "secret-f-66", access_token: "secret-g-77" },
    "careless",
  );
  assert.match(capture.lines[0] ?? "", /\[redacted\]/);
  capture.assertNoSecrets(["c2VjcmV0LWEx", "secret-b-22", "secret-c-33", "secret-d-44", "secret-e-55", "secret-f-66", "secret-g-77"]);
});
