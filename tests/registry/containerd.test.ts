import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { access, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { TestContainerd } from "../support/oci-clients.ts";
import { createWorld, startFacade, type Facade, type World } from "./fixture.ts";

/**
 * containerd resolves a tag with HEAD (it needs Docker-Content-Digest and
 * Content-Length there), fetches the manifest by that digest, then the blobs,
 * and unpacks them into a snapshot.
 */
let world: World;
let facade: Facade;
let containerd: TestContainerd;

before(async () => {
  world = await createWorld();
  facade = await startFacade(world);
  containerd = await TestContainerd.start();
});
after(async () => {
  await containerd?.stop();
  await facade?.stop();
  await world?.dispose();
});

test("ctr pulls and unpacks a composed image", async () => {
  for (const name of ["oci", "docker"]) {
    const ref = `${facade.host}/fixed/${name}:latest`;
    await containerd.ctr(["images", "pull", "--plain-http", "--snapshotter", "native", ref]);
    const { stdout } = await containerd.ctr(["images", "ls"]);
    const line = stdout.split("\n").find((l) => l.startsWith(ref));
    assert.ok(line, stdout);
    const digest = (await fetch(`http://${facade.host}/v2/fixed/${name}/manifests/latest`, { method: "HEAD" })).headers.get("docker-content-digest");
    assert.ok(digest && line.includes(digest), `${line} lists ${digest}`);
    const check = await containerd.ctr(["images", "check"]);
    assert.match(check.stdout, new RegExp(`${ref.replace(/[.]/g, "\\.")}\\s.*complete`), check.stdout);

    // The unpacked snapshot has every layer applied, whiteouts included.
    const mountpoint = await mkdtemp(join(world.dir, "mnt-"));
    await containerd.ctr(["images", "mount", "--snapshotter", "native", ref, mountpoint]);
    try {
      assert.equal(await readFile(join(mountpoint, "workspace/direct.txt"), "utf8"), "direct content\n");
      assert.equal(await readFile(join(mountpoint, "static/from-file.txt"), "utf8"), "static file\n");
      assert.equal(await readFile(join(mountpoint, ".supervisor/supervisor"), "utf8"), "supervisor\n");
      await assert.rejects(access(join(mountpoint, "opt/data/removed.txt")), "whiteout applied");
    } finally {
      await containerd.ctr(["images", "unmount", "--rm", mountpoint]);
    }
  }
});
