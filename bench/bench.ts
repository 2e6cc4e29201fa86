import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestNatsServer } from "../tests/support/nats.ts";
import { rssKiB } from "../tests/support/process.ts";
import { UpstreamRegistry } from "../tests/support/upstream-registry.ts";
import { SpecProvider, startRegistry, type FacadeProcess } from "./facade.ts";
import { blobThroughput } from "./measure/blob.ts";
import { skopeoPull } from "./measure/cold-pull.ts";
import { firstManifests, timedManifest } from "./measure/first-manifest.ts";
import { manifestLoad, type ManifestFigures } from "./measure/manifest.ts";
import { rssDuringPulls, type RssFigures } from "./measure/pulls.ts";
import { singleFlight, type SingleFlightFigures } from "./measure/single-flight.ts";
import { blobUrl, manifestUrl, type Target } from "./measure/target.ts";
import { readProfile, summarise, type ProfileSummary } from "./profile.ts";
import { COMPOSED_TAG, REPO, seedComposed, seedImages, WORKSPACE } from "./seed.ts";

export interface BenchOptions {
  /** Size of the base image's single layer's file, MiB. */
  layerMiB: number;
  /** Duration of each wrk run (manifest load, blob throughput), s. */
  seconds: number;
  coldRuns: number;
  memoryClients: number;
  singleFlightClients: number;
  newWorkspaces: number;
  log(line: string): void;
}

export type Pair<T> = { distribution: T; facade: T };

export interface Measured {
  layerBytes: number;
  manifest: Pair<ManifestFigures>;
  /** Bytes per second. */
  blob1: Pair<number>;
  blob8: Pair<number>;
  /** Seconds, one per run. */
  cold: Pair<number[]>;
  memory: Pair<RssFigures>;
  /** VmRSS of the warm registry process just after it started, MiB. */
  facadeIdleMiB: number;
  singleFlight: SingleFlightFigures;
  /** ms: the facade's first manifest of each new workspace; distribution's GET of an existing tag. */
  firstManifest: Pair<number[]>;
}

export type Workload = "manifest" | "blob" | "cold" | "first-manifest";

/**
 * Everything measured in one run. Each facade instance gets a fresh store
 * where a figure needs empty caches; the distribution registry holds the same
 * images the whole time (it is also the facade's upstream).
 */
export async function measure(o: BenchOptions, scratch: string, profileWhich: (m: Measured) => Workload[]): Promise<{ measured: Measured; profiles: Partial<Record<Workload, ProfileSummary>> }> {
  const stack: Array<() => Promise<unknown>> = [];
  try {
    const upstream = await UpstreamRegistry.start();
    stack.push(() => upstream.dispose());
    const nats = await TestNatsServer.start();
    stack.push(() => nats.dispose());
    const specs = await SpecProvider.start(scratch, nats.url);
    stack.push(() => specs.stop());
    const freshStore = () => mkdtemp(join(scratch, "store-"));
    const facadeOn = async (store: string, cpuProfDir?: string) => {
      const p = await startRegistry(scratch, { store, specProvider: specs.address, natsUrl: nats.url, cpuProfDir });
      stack.push(() => p.stop()); // a no-op once stopped
      return p;
    };

    o.log(`seeding: ${o.layerMiB} MiB base layer, IDE and supervisor images`);
    const { big, specFor } = await seedImages(upstream, o.layerMiB * 1024 * 1024);
    // The first instance composes the workspace for distribution's copy; the
    // big blob it has not fetched yet serves the single-flight figure.
    const seeder = await facadeOn(await freshStore());
    await seedComposed(upstream, specs, seeder, await specFor(WORKSPACE));
    o.log(`single-flight: ${o.singleFlightClients} concurrent cold GETs of the ${o.layerMiB} MiB blob`);
    const sf = await singleFlight(upstream, specs, seeder, big.digest, big.size, o.singleFlightClients);
    await seeder.stop();

    const plain: Target = { label: "distribution", url: upstream.url, repository: REPO, tag: COMPOSED_TAG, pid: upstream.pid };
    const cold: Pair<number[]> = { distribution: [], facade: [] };
    // Every facade pull on a fresh process and store: nothing cached anywhere.
    // The last instance stays up, warm, for the figures after.
    let warm: FacadeProcess | undefined;
    let warmStore = "";
    let idleMiB = 0;
    for (let i = 0; i < o.coldRuns; i++) {
      o.log(`cold pull ${i + 1}/${o.coldRuns}`);
      cold.distribution.push(await skopeoPull(`${upstream.host}/${REPO}:${COMPOSED_TAG}`, scratch));
      if (warm) {
        await warm.stop();
        await rm(warmStore, { recursive: true, force: true });
      }
      warmStore = await freshStore();
      warm = await facadeOn(warmStore);
      idleMiB = (await rssKiB(warm.pid)) / 1024;
      cold.facade.push(await skopeoPull(`${warm.host}/remote/${WORKSPACE}:latest`, scratch));
    }
    if (!warm) throw new Error("coldRuns must be at least 1");
    const facade: Target = { label: "registry-facade", url: warm.url, repository: `remote/${WORKSPACE}`, tag: "latest", pid: warm.pid };

    // The facade's VmRSS after each phase goes to the log: what a memory figure started from.
    const both = async <T>(what: string, f: (t: Target) => Promise<T>): Promise<Pair<T>> => {
      o.log(what);
      const pair = { distribution: await f(plain), facade: await f(facade) };
      o.log(`  registry-facade VmRSS now ${((await rssKiB(facade.pid)) / 1024).toFixed(1)} MiB`);
      return pair;
    };
    const manifest = await both("warm manifest GETs, 50 connections", (t) => manifestLoad(t, o.seconds));
    const blob1 = await both("warm blob GETs, 1 client", (t) => blobThroughput(t, big.digest, 1, o.seconds));
    const blob8 = await both("warm blob GETs, 8 clients", (t) => blobThroughput(t, big.digest, 8, o.seconds));
    const memory = await both(`VmRSS while ${o.memoryClients} clients pull the blob`, (t) => rssDuringPulls(t.pid, blobUrl(t, big.digest), o.memoryClients, big.size));
    o.log(`first manifest of ${o.newWorkspaces} new workspaces`);
    const firstManifest: Pair<number[]> = { distribution: [], facade: await firstManifests(warm.url, specs, specFor, o.newWorkspaces) };
    for (let i = 0; i < o.newWorkspaces; i++) firstManifest.distribution.push(await timedManifest(manifestUrl(plain)));
    // The profiled instances below reuse its store, so it must be stopped first.
    await warm.stop();

    const measured: Measured = { layerBytes: big.size, manifest, blob1, blob8, cold, memory, facadeIdleMiB: idleMiB, singleFlight: sf, firstManifest };
    const profiles: Partial<Record<Workload, ProfileSummary>> = {};
    for (const workload of profileWhich(measured)) {
      o.log(`profiling: ${workload}`);
      const dir = await mkdtemp(join(scratch, `profile-${workload}-`));
      const p = await facadeOn(workload === "cold" ? await freshStore() : warmStore, dir);
      const target: Target = { ...facade, url: p.url, pid: p.pid };
      const sinceSpawn = () => Number(process.hrtime.bigint() - p.spawnedAt) / 1e6;
      let window = { fromMs: 0, toMs: 0 };
      try {
        // The first-manifest figure assumes image metadata warm: warm it again after the restart.
        if (workload === "first-manifest") await timedManifest(manifestUrl(target));
        const fromMs = sinceSpawn();
        if (workload === "manifest") await manifestLoad(target, o.seconds);
        if (workload === "blob") await blobThroughput(target, big.digest, 8, o.seconds);
        if (workload === "cold") await skopeoPull(`${p.host}/remote/${WORKSPACE}:latest`, scratch);
        if (workload === "first-manifest") await firstManifests(p.url, specs, specFor, o.newWorkspaces);
        window = { fromMs, toMs: sinceSpawn() };
      } finally {
        await p.stop();
      }
      profiles[workload] = summarise(await readProfile(dir), window);
    }
    return { measured, profiles };
  } finally {
    for (const undo of stack.reverse()) await undo();
  }
}

/** Runs the whole bench in a scratch directory that is removed afterwards. */
export async function runBench(o: BenchOptions, profileWhich: (m: Measured) => Workload[]) {
  const scratch = await mkdtemp(join(tmpdir(), "facade-bench-"));
  try {
    return await measure(o, scratch, profileWhich);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
