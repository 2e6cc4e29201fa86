import { readFileSync } from "node:fs";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { SpecProviderClient, type ImageSpec } from "../../../../gen/registryfacade/provider.ts";
import type { RemoteSpecProviderConfig } from "../../../shared/config/schema.ts";
import { bearerToken, unaryCall } from "../../../shared/grpc/client.ts";
import type { Logger } from "../../../shared/logging.ts";
import { ReloadingValue } from "../../../shared/reloading.ts";
import { readSecretLines } from "../../../shared/secret-file.ts";
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

interface ProviderClient {
  addr: string;
  client: SpecProviderClient;
  /** The provider's bearer token, re-read when its tokenFile changes. */
  token: ReloadingValue<string> | undefined;
}

export class RemoteSpecSource implements SpecSource {
  private constructor(
    private readonly clients: readonly ProviderClient[],
    private readonly timeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** Reads each provider's token file (a bad one is a start-up error) and dials lazily. */
  static async open(providers: readonly RemoteSpecProviderConfig[], timeoutMs: number, logger: Logger): Promise<RemoteSpecSource> {
    const clients = await Promise.all(
      providers.map(async (p): Promise<ProviderClient> => {
        const token = p.tokenFile === undefined ? undefined : await openToken(p.tokenFile, logger);
        const interceptors = token === undefined ? [] : [bearerToken(() => token.current)];
        return { addr: p.addr, token, client: new SpecProviderClient(p.addr, channelCredentials(p), { "grpc.max_receive_message_length": MAX_SPEC_MESSAGE_BYTES, interceptors }) };
      }),
    );
    return new RemoteSpecSource(clients, timeoutMs, logger);
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
    for (const { client, token } of this.clients) {
      client.close();
      token?.close();
    }
  }
}

/**
 * A provider with specProvider.auth.read gets the first token of tokenFile
 * with every call. The file is re-read when it changes, so a token rotates
 * without a restart: the provider accepts old and new while the file moves.
 */
function openToken(tokenFile: string, logger: Logger): Promise<ReloadingValue<string>> {
  return ReloadingValue.open({
    what: "spec-provider token",
    paths: [tokenFile],
    load: async () => (await readSecretLines(tokenFile))[0]!,
    logger,
  });
}

/** The channel credentials of a provider; readiness checks dial it the same way. */
export function channelCredentials(provider: RemoteSpecProviderConfig) {
  if (!provider.tls) return credentials.createInsecure();
  const read = (file: string | undefined) => (file === undefined ? null : readFileSync(file));
  return credentials.createSsl(read(provider.tls.ca), read(provider.tls.key), read(provider.tls.crt));
}
