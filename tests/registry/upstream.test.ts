import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseImageRef, registryHost } from "../../services/shared/image-ref.ts";
import { RegistryError } from "../../services/registry/src/errors.ts";
import type { AuthScope, UpstreamAuth } from "../../services/registry/src/upstream/auth.ts";
import { UpstreamClient } from "../../services/registry/src/upstream/client.ts";
import { image, layer, sha256 } from "../support/images.ts";
import { UpstreamRegistry } from "../support/upstream-registry.ts";

/** The upstream client against a real docker-registry that requires basic auth. */
let upstream: UpstreamRegistry;
let built: ReturnType<typeof image>;
before(async () => {
  upstream = await UpstreamRegistry.start({ basic: { user: "puller", password: "s3cret" } });
  built = image({ family: "oci", layers: [await layer([{ path: "a.txt", content: "a\n" }])] });
  await upstream.pushImage("private/img", "v1", built);
});
after(async () => {
  await upstream?.dispose();
});

/** What the next issue will build properly: credentials handed out after a challenge. */
class RecordingBasicAuth implements UpstreamAuth {
  readonly challenges: Array<{ scope: AuthScope; header: string }> = [];
  private granted = false;

  async headers(): Promise<Record<string, string>> {
    return this.granted ? { authorization: `Basic ${Buffer.from("puller:s3cret").toString("base64")}` } : {};
  }

  async challenge(scope: AuthScope, header: string): Promise<boolean> {
    this.challenges.push({ scope, header });
    this.granted = true;
    return true;
  }
}

test("the auth seam: a 401 challenge is handed to the auth step and the request retried once", async () => {
  const auth = new RecordingBasicAuth();
  const client = new UpstreamClient({ insecureRegistries: [], auth });
  try {
    const repo = { host: upstream.host, repository: "private/img" };
    const digest = await client.resolveTag(repo, "v1");
    assert.equal(digest, built.manifestDigest);
    const manifest = await client.manifest(repo, digest);
    assert.deepEqual(manifest.bytes, built.manifest);
    assert.deepEqual(await client.blobDocument(repo, built.configDigest), built.config);
    const blob = await client.openBlob(repo, built.layers[0]?.digest as string);
    const chunks: Buffer[] = [];
    for await (const c of blob) chunks.push(c as Buffer);
    assert.equal(sha256(Buffer.concat(chunks)), built.layers[0]?.digest);
    assert.equal(auth.challenges.length, 1, "one challenge, then the credentials are reused");
    assert.deepEqual(auth.challenges[0]?.scope, repo);
    assert.match(auth.challenges[0]?.header ?? "", /^Basic realm="facade-test"/);
  } finally {
    await client.close();
  }
});

test("anonymous access to a protected upstream is refused with a clear error", async () => {
  const client = new UpstreamClient({ insecureRegistries: [] });
  try {
    await assert.rejects(client.resolveTag({ host: upstream.host, repository: "private/img" }, "v1"), (err: unknown) => {
      assert.ok(err instanceof RegistryError);
      assert.equal(err.code, "MANIFEST_UNKNOWN");
      assert.match(err.message, /denied anonymous access/);
      return true;
    });
  } finally {
    await client.close();
  }
});

test("plain HTTP only for loopback and listed hosts; Docker Hub names go to its registry over HTTPS", async () => {
  const client = new UpstreamClient({ insecureRegistries: ["registry.lan:5000", "mirror.lan"] });
  try {
    assert.equal(client.origin("127.0.0.1:5000"), "http://127.0.0.1:5000");
    assert.equal(client.origin("localhost"), "http://localhost");
    assert.equal(client.origin("[::1]:5000"), "http://[::1]:5000");
    assert.equal(client.origin("registry.lan:5000"), "http://registry.lan:5000");
    assert.equal(client.origin("mirror.lan:443"), "http://mirror.lan:443");
    assert.equal(client.origin("registry.lan:6000"), "https://registry.lan:6000");
    assert.equal(client.origin("ghcr.io"), "https://ghcr.io");
    assert.equal(client.origin(registryHost(parseImageRef("alpine"))), "https://registry-1.docker.io");
  } finally {
    await client.close();
  }
});
