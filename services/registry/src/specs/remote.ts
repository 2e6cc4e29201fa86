import { readFileSync } from "node:fs";
import { credentials, status, type Interceptor, type ServiceError } from "@grpc/grpc-js";
import { SpecProviderClient, type ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import type { RemoteSpecProviderConfig } from "../../../shared/config/schema.ts";
import { bearerToken, unaryCall } from "../../../shared/grpc/client.ts";
import { parseSecretLines } from "../../../shared/secret-file.ts";
import type { Logger } from "../../../shared/logging.ts";
import { specLookupErrors } from "../../../shared/telemetry/metrics.ts";
import { unavailable } from "../errors.ts";
import type { SpecSource } from "./source.ts";

/**
 * remote/<id>: asks each configured spec-provider in order, every call with a
 * deadline. NOT_FOUND from one means "ask the next"; the id is unknown only
 * when every provider said NOT_FOUND. INVALID_ARGUMENT counts as NOT_FOUND:
 * an id a provider refuses to store (OCI names may be longer than workspace
 * ids) can never exist there. A provider that could not answer turns a miss
 * into UNAVAILABLE, since the workspace may live there.
 */
/**
 * A spec carries its direct content layers inline, and the spec-provider's
 * maxDirectContentBytes can be raised past grpc-js's 4 MiB default; the
 * registry must still be able to read every spec the provider accepted.
 */
const MAX_SPEC_MESSAGE_BYTES = 64 * 1024 * 1024;

export class RemoteSpecSource implements SpecSource {
  private readonly clients: Array<{ addr: string; client: SpecProviderClient }>;

  constructor(
    providers: readonly RemoteSpecProviderConfig[],
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.clients = providers.map((p) => ({
      addr: p.addr,
      client: new SpecProviderClient(p.addr, channelCredentials(p), { "grpc.max_receive_message_length": MAX_SPEC_MESSAGE_BYTES, ...tokenOption(p) }),
    }));
  }

  async get(id: string): Promise<ImageSpec | undefined> {
    const failures: Array<{ addr: string; code: string; message: string }> = [];
    for (const { addr, client } of this.clients) {
      try {
        const response = await unaryCall(client.getImageSpec.bind(client), { id }, { deadline: Date.now() + this.timeoutMs });
        if (response.spec) return response.spec;
      } catch (err) {
        const e = err as ServiceError;
        if (e.code === status.NOT_FOUND || e.code === status.INVALID_ARGUMENT) continue;
        const code = status[e.code] ?? String(e.code);
        this.logger.warn({ addr, code, reason: e.details }, "spec-provider call failed");
        specLookupErrors.inc({ provider: addr, code });
        failures.push({ addr, code, message: e.details });
      }
    }
    if (failures.length > 0) throw unavailable("spec-provider unavailable", { failures });
    return undefined;
  }

  close(): void {
    for (const { client } of this.clients) client.close();
  }
}

/** A provider with specProvider.auth.read gets the token of tokenFile (read at start) with every call. */
function tokenOption(provider: RemoteSpecProviderConfig): { interceptors?: Interceptor[] } {
  if (provider.tokenFile === undefined) return {};
  const [token] = parseSecretLines(readFileSync(provider.tokenFile, "utf8"), provider.tokenFile);
  return { interceptors: [bearerToken(token!)] };
}

/** The channel credentials of a provider; readiness checks dial it the same way. */
export function channelCredentials(provider: RemoteSpecProviderConfig) {
  if (!provider.tls) return credentials.createInsecure();
  const read = (file: string | undefined) => (file === undefined ? null : readFileSync(file));
  return credentials.createSsl(read(provider.tls.ca), read(provider.tls.key), read(provider.tls.crt));
}
