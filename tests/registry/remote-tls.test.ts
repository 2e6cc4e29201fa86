import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { SpecManagementServiceClient } from "../../gen/facade/manage/v1/manage.ts";
import { ImageSpec } from "../../gen/registryfacade/provider.ts";
import { unaryCall } from "../../services/shared/grpc/client.ts";
import { makeCertificates } from "../support/certificates.ts";
import { startTestSpecProvider, type TestSpecProvider } from "../support/spec-provider.ts";
import { createWorld, startFacade, type Facade, type World } from "./fixture.ts";


/** registry.remoteSpecProvider[].tls: the registry talks mutual TLS to a spec-provider that demands it. */
let world: World;
let certs: string;
let provider: TestSpecProvider;

before(async () => {
  world = await createWorld();
  certs = await mkdtemp(join(world.dir, "certs-"));
  await makeCertificates(certs, { servers: ["server"], clients: ["client"] });
  provider = await startTestSpecProvider({ specProvider: { tls: { crt: join(certs, "server.crt"), key: join(certs, "server.key"), ca: join(certs, "ca.crt") } } });
});
after(async () => {
  await provider?.stop();
  await world?.dispose();
});

test("with the CA and a client certificate the registry gets the spec; without them it answers 503", async () => {
  const file = (name: string) => readFile(join(certs, name));
  const manage = new SpecManagementServiceClient(provider.address, credentials.createSsl(await file("ca.crt"), await file("client.key"), await file("client.crt")));
  try {
    await unaryCall(manage.putSpec.bind(manage), { id: "ws-tls", spec: ImageSpec.fromJSON(world.specs["plain"]) });
  } finally {
    manage.close();
  }

  const tls = { ca: join(certs, "ca.crt"), crt: join(certs, "client.crt"), key: join(certs, "client.key") };
  const secure: Facade = await startFacade(world, { remoteSpecProvider: [{ addr: provider.address, tls }] }, { withStatic: false });
  try {
    const res = await fetch(`${secure.url}/v2/remote/ws-tls/manifests/latest`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { layers: unknown[] }).layers.length, 3);
  } finally {
    await secure.stop();
  }

  const plain: Facade = await startFacade(world, { remoteSpecProvider: [{ addr: provider.address }], specProviderTimeoutMs: 2000 }, { withStatic: false });
  try {
    const res = await fetch(`${plain.url}/v2/remote/ws-tls/manifests/latest`);
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  } finally {
    await plain.stop();
  }
});
