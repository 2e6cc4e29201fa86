import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { status as Code } from "@grpc/grpc-js";
import { SpecEvent_Kind } from "../../gen/facade/manage/v1/manage.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { TestNatsServer } from "../support/nats.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { DIGEST_A, EventCollector, failure, spec } from "./helpers.ts";

/**
 * One suite, run through the real gRPC API against a spec-provider on each
 * store backend: both must behave the same to a client.
 */
interface Backend {
  name: string;
  start(): Promise<TestSpecProvider>;
  dispose(): Promise<void>;
}

function fileBackend(): Backend {
  return { name: "file store", start: () => startTestSpecProvider(), dispose: async () => undefined };
}

function natsBackend(): Backend {
  let nats: TestNatsServer | undefined;
  let bucket = 0;
  return {
    name: "nats-kv store",
    async start() {
      nats ??= await TestNatsServer.start();
      // A bucket per test keeps tests independent on one server.
      return startTestSpecProvider({ nats: { servers: [nats.url], bucket: `specs-${++bucket}` } });
    },
    async dispose() {
      await nats?.dispose();
    },
  };
}

for (const backend of [fileBackend(), natsBackend()]) {
  describe(`spec store contract: ${backend.name}`, () => {
    let sp: TestSpecProvider;
    after(() => backend.dispose());

    const withProvider = (name: string, body: () => Promise<void>) =>
      test(name, async () => {
        sp = await backend.start();
        try {
          await body();
        } finally {
          await sp.stop();
        }
      });

    const put = (id: string, s = spec(), expectedRevision?: bigint) => unaryCall(sp.client.putSpec.bind(sp.client), { id, spec: s, expectedRevision });
    const get = (id: string) => unaryCall(sp.client.getSpec.bind(sp.client), { id });
    const del = (id: string, expectedRevision?: bigint) => unaryCall(sp.client.deleteSpec.bind(sp.client), { id, expectedRevision });
    const list = (pageSize: number, pageToken = "") => unaryCall(sp.client.listSpecs.bind(sp.client), { pageSize, pageToken });

    withProvider("put returns the stored spec, its revision and the image reference; get and GetImageSpec read it back", async () => {
      const content = spec({
        ideRef: "ghcr.io/acme/ide:1",
        supervisorRef: "ghcr.io/acme/supervisor@sha256:" + "c".repeat(64),
        ideLayerRef: ["ghcr.io/acme/tool:2", "busybox"],
        contentLayer: [
          { spec: { $case: "remote", value: { url: "https://blobs.example/l.tar.gz", digest: DIGEST_A, diffId: `sha256:${"d".repeat(64)}`, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", size: 2n ** 40n } } },
        ],
      });
      const { stored } = await put("ws-1", content);
      assert.ok(stored);
      assert.equal(stored.id, "ws-1");
      assert.ok(stored.revision > 0n);
      assert.equal(stored.imageRef, `${sp.config.specProvider.imageRefHost}/remote/ws-1:latest`);
      assert.deepEqual(stored.spec, content);
      assert.ok(stored.updateTime instanceof Date);

      const got = await get("ws-1");
      assert.deepEqual(got.stored?.spec, content);
      assert.equal(got.stored?.revision, stored.revision);
      assert.equal(got.stored?.imageRef, stored.imageRef);

      const image = await unaryCall(sp.specProviderClient.getImageSpec.bind(sp.specProviderClient), { id: "ws-1" });
      assert.deepEqual(image.spec, content);
    });

    withProvider("unknown ids are NOT_FOUND for get, GetImageSpec and delete", async () => {
      assert.equal((await failure(get("nope"))).code, Code.NOT_FOUND);
      assert.equal((await failure(unaryCall(sp.specProviderClient.getImageSpec.bind(sp.specProviderClient), { id: "nope" }))).code, Code.NOT_FOUND);
      assert.equal((await failure(del("nope"))).code, Code.NOT_FOUND);
    });

    withProvider("every write increases the revision; delete returns the deleted revision and removes the spec", async () => {
      const first = (await put("ws-1")).stored!.revision;
      const second = (await put("ws-1", spec({ baseRef: "ubuntu:24.04" }))).stored!.revision;
      assert.ok(second > first);
      assert.equal((await get("ws-1")).stored?.spec?.baseRef, "ubuntu:24.04");
      assert.deepEqual(await del("ws-1"), { revision: second });
      assert.equal((await failure(get("ws-1"))).code, Code.NOT_FOUND);
      // Recreated after a delete, it never reuses an old revision.
      assert.ok((await put("ws-1")).stored!.revision > second);
    });

    withProvider("expected revisions: 0 means create only, n must match, mismatches are FAILED_PRECONDITION", async () => {
      const created = (await put("ws-1", spec(), 0n)).stored!.revision;
      assert.equal((await failure(put("ws-1", spec(), 0n))).code, Code.FAILED_PRECONDITION);
      const updated = (await put("ws-1", spec({ baseRef: "ubuntu" }), created)).stored!.revision;
      const stale = await failure(put("ws-1", spec({ baseRef: "debian" }), created));
      assert.equal(stale.code, Code.FAILED_PRECONDITION);
      assert.match(stale.message, /ws-1/);
      assert.equal((await get("ws-1")).stored?.spec?.baseRef, "ubuntu");
      assert.equal((await failure(put("other", spec(), 7n))).code, Code.FAILED_PRECONDITION, "an expected revision on a missing id fails");
      assert.equal((await failure(del("ws-1", created))).code, Code.FAILED_PRECONDITION);
      assert.deepEqual(await del("ws-1", updated), { revision: updated });
      assert.equal((await failure(put("ws-1", spec(), updated))).code, Code.FAILED_PRECONDITION, "a deleted spec has no revision to match");
    });

    withProvider("two puts racing on one expected revision: exactly one wins", async () => {
      const base = (await put("ws-race")).stored!.revision;
      for (let round = 0; round < 5; round++) {
        const current = (await get("ws-race")).stored!.revision;
        const results = await Promise.allSettled([
          put("ws-race", spec({ baseRef: `alpine:${round}.1` }), current),
          put("ws-race", spec({ baseRef: `alpine:${round}.2` }), current),
        ]);
        const won = results.filter((r) => r.status === "fulfilled");
        assert.equal(won.length, 1, `round ${round}: ${results.map((r) => r.status).join(", ")}`);
        const lost = results.find((r) => r.status === "rejected");
        assert.equal((await failure(Promise.reject(lost!.reason))).code, Code.FAILED_PRECONDITION);
        const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof put>>>).value.stored!;
        assert.deepEqual((await get("ws-race")).stored?.spec, winner.spec);
      }
      assert.ok((await get("ws-race")).stored!.revision > base);
    });

    withProvider("list pages through every spec in id order", async () => {
      const ids = Array.from({ length: 7 }, (_, i) => `ws-${String(i).padStart(2, "0")}`).reverse();
      for (const id of ids) await put(id);
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const page = await list(3, token);
        assert.ok(page.specs.length <= 3);
        for (const s of page.specs) assert.equal(s.imageRef, `${sp.config.specProvider.imageRefHost}/remote/${s.id}:latest`);
        seen.push(...page.specs.map((s) => s.id));
        token = page.nextPageToken;
        pages++;
      } while (token !== "");
      assert.equal(pages, 3);
      assert.deepEqual(seen, [...ids].sort());
      const all = await list(0);
      assert.equal(all.specs.length, 7);
      assert.equal(all.nextPageToken, "", "an exact last page has no next token");
    });

    withProvider("watch: the initial state, one SYNCED mark, then puts and deletes as they happen", async () => {
      await put("ws-old");
      const live = new EventCollector(sp.client.watchSpecs({ includeInitial: false }));
      const initial = new EventCollector(sp.client.watchSpecs({ includeInitial: true }));
      // SYNCED says the watch is live: nothing written after it can be missed.
      await live.waitFor(1);
      await initial.waitFor(2);
      const stored = (await put("ws-new", spec({ baseRef: "ubuntu" }))).stored!;
      const { revision } = await del("ws-old");
      const kinds = (events: typeof live.events) => events.map((e) => [SpecEvent_Kind[e.kind], e.id]);
      assert.deepEqual(kinds(await live.waitFor(3)), [
        ["KIND_SYNCED", ""],
        ["KIND_PUT", "ws-new"],
        ["KIND_DELETE", "ws-old"],
      ]);
      assert.deepEqual(kinds(await initial.waitFor(4)), [
        ["KIND_PUT", "ws-old"],
        ["KIND_SYNCED", ""],
        ["KIND_PUT", "ws-new"],
        ["KIND_DELETE", "ws-old"],
      ]);
      const [, putEvent, deleteEvent] = live.events;
      assert.equal(putEvent?.revision, stored.revision);
      assert.equal(putEvent?.stored?.spec?.baseRef, "ubuntu");
      assert.equal(putEvent?.stored?.imageRef, stored.imageRef);
      assert.ok(deleteEvent!.revision > revision, "a delete event carries the revision of the delete itself");
      assert.equal(deleteEvent?.stored, undefined);
      assert.equal(initial.events[0]?.stored?.imageRef, `${sp.config.specProvider.imageRefHost}/remote/ws-old:latest`);
      await live.cancel();
      await initial.cancel();
    });

    withProvider("the initial state of a watch holds the existing specs only, not the deleted ones", async () => {
      await put("ws-a");
      await put("ws-b");
      // The delete is the last write, the case a naive reading of the KV watch gets wrong.
      await del("ws-b");
      const watch = new EventCollector(sp.client.watchSpecs({ includeInitial: true }));
      await watch.waitFor(2);
      // Give a wrong extra event the time to arrive before looking.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(
        watch.events.map((e) => [SpecEvent_Kind[e.kind], e.id]),
        [
          ["KIND_PUT", "ws-a"],
          ["KIND_SYNCED", ""],
        ],
      );
      await watch.cancel();
    });
  });
}
