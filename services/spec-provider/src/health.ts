import type { Server } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { SpecStore } from "./store/index.ts";

/** "" is the whole server, as grpc.health.v1 clients ask by default. */
const SERVICE_NAMES = ["", "registryfacade.SpecProvider", "facade.manage.v1.SpecManagementService"];

/**
 * grpc.health.v1 for the server and both services. SERVING while the store
 * is reachable: without it a replica can only answer UNAVAILABLE, so health
 * says NOT_SERVING and readiness probes or load balancers send callers
 * elsewhere. Once stopping, it stays NOT_SERVING.
 */
export function addHealthService(server: Server, store: SpecStore): { stopping(): void; serving(): boolean } {
  const health = new HealthImplementation(Object.fromEntries(SERVICE_NAMES.map((name) => [name, "SERVING" as const])));
  health.addToServer(server);
  let stopping = false;
  let available = true;
  const setAll = (status: ServingStatus) => {
    for (const name of SERVICE_NAMES) health.setStatus(name, status);
  };
  store.onAvailabilityChange?.((now) => {
    available = now;
    if (!stopping) setAll(available ? "SERVING" : "NOT_SERVING");
  });
  return {
    stopping() {
      stopping = true;
      setAll("NOT_SERVING");
    },
    /** What grpc.health.v1 answers, for the HTTP /ready of readinessProbeAddr. */
    serving: () => available && !stopping,
  };
}
