import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { request } from "undici";
import { freePort, startProcess, waitUntil, type TestProcess } from "./process.ts";
import type { BuiltImage, BuiltIndex } from "./images.ts";

const exec = promisify(execFile);

/** A real distribution registry (Debian's docker-registry) on a loopback port of its own. */
export class UpstreamRegistry {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly process: TestProcess,
    /** Authorization header for the test's own pushes to a repository when auth is on. */
    private readonly authorization: (repo: string) => Record<string, string>,
  ) {}

  /** host:port as it appears in image references. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  /** The docker-registry process id, for reading its resident memory. */
  get pid(): number {
    return this.process.child.pid as number;
  }

  /** Where the registry keeps its storage (the storage driver's root). */
  get dataDir(): string {
    return join(this.dir, "data");
  }

  /**
   * With basic, the registry requires that user and password (htpasswd,
   * bcrypt) for every request; with token, a token from that issuer
   * (distribution's `auth: token`), and the tests push with token.push(repo).
   * With redirectTo, blob GETs answer with a redirect to that base URL
   * followed by the blob's path under dataDir (the redirect storage middleware).
   */
  static async start(
    options: {
      basic?: { user: string; password: string };
      token?: { realm: string; service: string; issuer: string; rootCertBundle: string; push: (repo: string) => string };
      redirectTo?: string;
    } = {},
  ): Promise<UpstreamRegistry> {
    const dir = await mkdtemp(join(tmpdir(), "facade-upstream-"));
    const port = await freePort();
    const config = join(dir, "config.yml");
    const lines = [
      "version: 0.1",
      "log: {level: error, accesslog: {disabled: true}}",
      `storage: {filesystem: {rootdirectory: ${join(dir, "data")}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}}`,
    ];
    let authorization = (_repo: string): Record<string, string> => ({});
    if (options.redirectTo) lines.push(`middleware: {storage: [{name: redirect, options: {baseurl: "${options.redirectTo}"}}]}`);
    const token = options.token;
    if (token) {
      lines.push(`auth: {token: {realm: "${token.realm}", service: ${token.service}, issuer: ${token.issuer}, rootcertbundle: ${token.rootCertBundle}}}`);
      authorization = (repo) => ({ authorization: `Bearer ${token.push(repo)}` });
    }
    if (options.basic) {
      const htpasswd = join(dir, "htpasswd");
      const { stdout } = await exec("htpasswd", ["-Bbn", options.basic.user, options.basic.password]);
      await writeFile(htpasswd, stdout);
      lines.push(`auth: {htpasswd: {realm: facade-test, path: ${htpasswd}}}`);
      const basic = { authorization: `Basic ${Buffer.from(`${options.basic.user}:${options.basic.password}`).toString("base64")}` };
      authorization = () => basic;
    }
    await writeFile(config, lines.join("\n"));
    const process = startProcess("docker-registry", "docker-registry", ["serve", config]);
    const registry = new UpstreamRegistry(port, dir, process, authorization);
    await waitUntil("docker-registry", async () => (await fetch(`${registry.url}/v2/`, { headers: authorization("ready") })).status === 200, { process });
    return registry;
  }

  /** Uploads a blob in one PUT; data may be a stream of known length (never held in memory). */
  async pushBlob(repo: string, digest: string, data: Buffer | Readable, size?: number): Promise<void> {
    const head = await request(`${this.url}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers: this.authorization(repo) });
    await head.body.dump();
    if (head.statusCode === 200) return;
    const start = await request(`${this.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: this.authorization(repo) });
    await start.body.dump();
    if (start.statusCode !== 202) throw new Error(`upload start: ${start.statusCode}`);
    const location = new URL(String(start.headers["location"]), this.url);
    location.searchParams.set("digest", digest);
    const length = Buffer.isBuffer(data) ? data.length : size;
    const put = await request(location, {
      method: "PUT",
      body: data,
      headers: { ...this.authorization(repo), "content-type": "application/octet-stream", ...(length !== undefined ? { "content-length": String(length) } : {}) },
    });
    const text = await put.body.text();
    if (put.statusCode !== 201) throw new Error(`blob upload ${digest}: ${put.statusCode} ${text}`);
  }

  async pushManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
    const res = await request(`${this.url}/v2/${repo}/manifests/${reference}`, { method: "PUT", body: bytes, headers: { ...this.authorization(repo), "content-type": mediaType } });
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`manifest ${repo}:${reference}: ${res.statusCode} ${text}`);
  }

  /** Pushes layers, config and manifest; returns the image's reference by tag. */
  async pushImage(repo: string, tag: string, image: BuiltImage): Promise<string> {
    for (const layer of image.layers) await this.pushBlob(repo, layer.digest, layer.blob);
    await this.pushBlob(repo, image.configDigest, image.config);
    await this.pushManifest(repo, tag, image.manifest, image.mediaType);
    return `${this.host}/${repo}:${tag}`;
  }

  /** Pushes every child image by digest, then the index under tag. */
  async pushIndex(repo: string, tag: string, index: BuiltIndex): Promise<string> {
    for (const child of index.children) await this.pushImage(repo, child.image.manifestDigest, child.image);
    await this.pushManifest(repo, tag, index.bytes, index.mediaType);
    return `${this.host}/${repo}:${tag}`;
  }

  async dispose(): Promise<void> {
    await this.process.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
