import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { credentials, Server, ServerCredentials, status as Code } from "@grpc/grpc-js";
import { SpecEvent_Kind, SpecManagementServiceClient, SpecManagementServiceService, type SpecManagementServiceServer } from "../../gen/facade/manage/v1/manage.ts";
import { SpecProviderClient, SpecProviderService } from "../../gen/registryfacade/provider.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { InvalidArgumentError, NotFoundError, PreconditionError, UnavailableError } from "../../services/shared/grpc/errors.ts";
import { serverStreamHandler, unaryHandler } from "../../services/shared/grpc/handlers.ts";
import { createLogger } from "../../services/shared/logging.ts";
import { EventCollector, failure } from "./helpers.ts";

/**
 * The shared handler wrappers on a real grpc-js server, with handlers that
 * fail in every way: each failure must become the right status, and none may
 * take the server down.
 */

const logger = createLogger({ level: "silent", service: "test" });
let server: Server;
let provider: SpecProviderClient;
let management: SpecManagementServiceClient;

const failures: Record<string, () => never | Promise<never>> = {
  "sync-throw": () => {
    throw new TypeError("secret internal detail");
  },
  reject: () => Promise.reject(new Error("secret internal detail")),
  "not-found": () => Promise.reject(new NotFoundError("no spec for workspace not-found")),
  precondition: () => Promise.reject(new PreconditionError("revision moved")),
  unavailable: () => Promise.reject(new UnavailableError("store down")),
  invalid: () => Promise.reject(new InvalidArgumentError([{ field: "spec.base_ref", description: "required" }, { field: "id", description: "too long" }])),
};

before(async () => {
  server = new Server();
  server.addService(SpecProviderService, {
    getImageSpec: unaryHandler("GetImageSpec", logger, async (request: { id: string }) => {
      const fail = failures[request.id];
      if (fail) return fail();
      return { spec: { baseRef: "alpine", ideRef: "", supervisorRef: "", ideLayerRef: [], contentLayer: [] } };
    }),
  });
  const unused = () => unaryHandler("unused", logger, () => Promise.reject(new Error("unused")));
  const managementImpl: SpecManagementServiceServer = {
    putSpec: unused(),
    getSpec: unused(),
    deleteSpec: unused(),
    listSpecs: unused(),
    watchSpecs: serverStreamHandler("WatchSpecs", logger, async (request, stream) => {
      await stream.send({ event: { kind: SpecEvent_Kind.KIND_PUT, id: "first", revision: 1n } });
      if (request.includeInitial) throw new Error("secret internal detail");
      throw new UnavailableError("going away");
    }),
  };
  server.addService(SpecManagementServiceService, managementImpl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  provider = new SpecProviderClient(`127.0.0.1:${port}`, credentials.createInsecure());
  management = new SpecManagementServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
});

after(async () => {
  provider.close();
  management.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

const call = (id: string) => unaryCall(provider.getImageSpec.bind(provider), { id });

test("a synchronous throw and a rejection with a plain error are INTERNAL, without the error's text", async () => {
  for (const id of ["sync-throw", "reject"]) {
    const result = await failure(call(id));
    assert.equal(result.code, Code.INTERNAL, id);
    assert.equal(result.message, "internal error");
    assert.deepEqual(result.fields, []);
  }
  assert.equal((await call("fine")).spec?.baseRef, "alpine", "the server still serves");
});

test("typed errors map to their codes and keep their message", async () => {
  const expected: Array<[string, Code, string]> = [
    ["not-found", Code.NOT_FOUND, "no spec for workspace not-found"],
    ["precondition", Code.FAILED_PRECONDITION, "revision moved"],
    ["unavailable", Code.UNAVAILABLE, "store down"],
  ];
  for (const [id, code, message] of expected) {
    const result = await failure(call(id));
    assert.equal(result.code, code, id);
    assert.equal(result.message, message);
  }
});

test("an invalid argument carries every field violation in a google.rpc.BadRequest detail", async () => {
  const result = await failure(call("invalid"));
  assert.equal(result.code, Code.INVALID_ARGUMENT);
  assert.deepEqual(result.fields, ["spec.base_ref", "id"]);
});

test("a stream that fails after sending ends with the mapped status, its messages delivered", async () => {
  const internal = new EventCollector(management.watchSpecs({ includeInitial: true }));
  const unavailable = new EventCollector(management.watchSpecs({ includeInitial: false }));
  for (const collector of [internal, unavailable]) {
    await collector.waitFor(1);
    const deadline = Date.now() + 5000;
    while (collector.error === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(collector.events[0]?.id, "first");
  }
  assert.equal(internal.error?.code, Code.INTERNAL);
  assert.equal(internal.error?.details, "internal error");
  assert.equal(unavailable.error?.code, Code.UNAVAILABLE);
  assert.equal(unavailable.error?.details, "going away");
});
