import { configFromArgs } from "../shared/config/from-args.ts";
import type { Config } from "../shared/config/schema.ts";
import { stopOnSignals } from "../shared/lifecycle.ts";
import { InProcessEventBus } from "../shared/events/in-process-bus.ts";
import { createLogger } from "../shared/logging.ts";
import { startOpsServer, type OpsServer } from "../shared/telemetry/ops-server.ts";
import { startSpecProvider } from "../spec-provider/src/index.ts";
import { startRegistry, type RunningRegistry } from "../registry/src/index.ts";

/**
 * `npm start`: both services in one process on the embedded defaults (file
 * store under .data/, loopback only), the registry asking this process's own
 * spec-provider. Meant for trying the project out and for local development;
 * production runs each service from its own bin.
 */
const { config } = await configFromArgs("registry-facade");

const logger = createLogger({ level: config.logLevel, service: "registry-facade" });
let specProvider;
let registry: RunningRegistry | undefined;
let ops: OpsServer;
try {
  // One /metrics for both services (they share one metrics registry); /ready is the registry's.
  ops = await startOpsServer(config, async () => registry?.ready() ?? { ready: false, checks: { startup: "starting" } }, logger);
  // Without NATS the two services share one in-process bus: a put reaches the registry's caches at once.
  const eventBus = config.nats ? undefined : new InProcessEventBus(logger);
  specProvider = await startSpecProvider(config, logger, { eventBus });
  const wired: Config = {
    ...config,
    registry: {
      ...config.registry,
      remoteSpecProvider:
        config.registry.remoteSpecProvider.length > 0 ? config.registry.remoteSpecProvider : [{ addr: `127.0.0.1:${specProvider.port}` }],
    },
  };
  registry = await startRegistry(wired, logger, { eventBus });
} catch (err) {
  logger.fatal({ reason: (err as Error).message }, "cannot start");
  await specProvider?.stop();
  process.exit(1);
}

// What a client on this machine dials: a wildcard listen address is reached on loopback.
const reachable = (host: string) => (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);
const registryAddr = `${reachable(config.registry.host)}:${registry.port}`;
const specProviderAddr = `${reachable(config.specProvider.host)}:${specProvider.port}`;
// facadectl's own default needs no flag; options go after the subcommand.
const addrFlag = specProviderAddr === "127.0.0.1:32224" ? "" : ` --addr ${specProviderAddr}`;
const image = `${registryAddr}/remote/demo:latest`;
process.stdout.write(`
registry-facade is running
  registry       http://${registryAddr}${config.registry.prefix}/v2/
  spec-provider  ${specProviderAddr} (gRPC)

Try it, from this folder in another terminal:
  npx facadectl put demo${addrFlag} --base docker.io/library/alpine:3.20 --ide docker.io/library/busybox:1.36
  skopeo inspect --tls-verify=false docker://${image}
  skopeo copy --src-tls-verify=false docker://${image} oci:.data/demo-image:latest
  sudo ctr images pull --plain-http ${image}

The README's walk-through goes further: content layers, umoci, containerd's hosts.toml.
Ctrl-C stops both services.
`);

const [runningRegistry, runningSpecProvider] = [registry, specProvider];
stopOnSignals(logger, async () => {
  // The registry first: it may still be asking the spec-provider.
  await runningRegistry.stop();
  await runningSpecProvider.stop();
  await ops.close();
});
