import { test } from "node:test";
import assert from "node:assert/strict";
import { formatImageRef, parseImageRef, registryHost, isLoopbackHost } from "../../services/shared/image-ref.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;

test("Docker Hub short names are normalised", () => {
  assert.equal(formatImageRef(parseImageRef("alpine")), "docker.io/library/alpine:latest");
  assert.equal(formatImageRef(parseImageRef("gitpod/workspace-full:2024")), "docker.io/gitpod/workspace-full:2024");
  assert.equal(formatImageRef(parseImageRef("index.docker.io/library/ubuntu:22.04")), "docker.io/library/ubuntu:22.04");
  assert.equal(registryHost(parseImageRef("alpine")), "registry-1.docker.io");
});

test("hosts, ports, tags and digests are kept apart", () => {
  assert.deepEqual(parseImageRef(`127.0.0.1:5000/a/b:v1@${DIGEST}`), { domain: "127.0.0.1:5000", path: "a/b", tag: "v1", digest: DIGEST });
  assert.deepEqual(parseImageRef(`localhost/x@${DIGEST}`), { domain: "localhost", path: "x", digest: DIGEST });
  assert.deepEqual(parseImageRef("ghcr.io/org/img"), { domain: "ghcr.io", path: "org/img", tag: "latest" });
  assert.equal(registryHost(parseImageRef("ghcr.io/org/img")), "ghcr.io");
});

test("malformed references are refused with a reason", () => {
  for (const bad of ["", "UPPER/case", "a b", "host:5000/x:bad tag", "x@sha256:123", "x:", "ghcr.io/", "a//b", `x@md5:${"a".repeat(32)}`]) {
    assert.throws(() => parseImageRef(bad), /invalid image reference/, bad);
  }
});

test("loopback hosts are recognised", () => {
  assert.ok(isLoopbackHost("127.0.0.1:5000"));
  assert.ok(isLoopbackHost("localhost"));
  assert.ok(isLoopbackHost("[::1]:80"));
  assert.ok(!isLoopbackHost("registry.example.com"));
  assert.ok(!isLoopbackHost("10.0.0.1:5000"));
});
