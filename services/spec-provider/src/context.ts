import type { Config, SpecProviderConfig } from "../../shared/config/schema.ts";
import type { EventBus, FacadeEvent } from "../../shared/events/events.ts";
import { openEventBus } from "../../shared/events/open.ts";
import { subsystemLogger, type Logger } from "../../shared/logging.ts";
import { ReloadingValue } from "../../shared/reloading.ts";
import { readSecretLines } from "../../shared/secret-file.ts";
import { workspaceCredential, type PullCredential } from "../../shared/workspace-credential.ts";
import { CallAuthorizer } from "./auth.ts";
import { openSpecStore, type SpecStore } from "./store/index.ts";

/**
 * Everything a handler needs, built once from the validated configuration.
 * Handlers get it as an argument and never read configuration or the
 * environment themselves.
 */
export interface AppContext {
  readonly config: SpecProviderConfig;
  readonly logger: Logger;
  readonly store: SpecStore;
  /** Aborted when the server stops, so endless streams (watch) end and shutdown can complete. */
  readonly shutdown: AbortSignal;
  /** The reference a container runtime pulls to run workspace id. */
  imageRefFor(id: string): string;
  /** specProvider.auth's checks; undefined when every client is trusted. */
  readonly auth: CallAuthorizer | undefined;
  /** The registry credential for workspace id (specProvider.workspaceSecretFile), if configured. */
  pullCredential(id: string): PullCredential | undefined;
  /**
   * Tells every registry replica that a spec changed (spec.put, spec.delete),
   * so they drop what they cached for it. Never throws: the write it reports
   * already happened, and the registries' TTL covers a lost event.
   */
  announce(event: FacadeEvent): Promise<void>;
}

export interface SpecProviderOptions {
  /** A bus shared with a registry in this process (all-in-one); without it, NATS when configured. */
  eventBus?: EventBus;
}

export interface OwnedAppContext extends AppContext {
  /** Aborts shutdown: open streams end, so the server can finish its calls. */
  endStreams(): void;
  /** Releases the store; after the server has finished its calls. */
  close(): Promise<void>;
}

export async function createAppContext(config: Config, logger: Logger, options: SpecProviderOptions = {}): Promise<OwnedAppContext> {
  const auth = await CallAuthorizer.open(config.specProvider, subsystemLogger(logger, "auth"));
  const secretFile = config.specProvider.workspaceSecretFile;
  const secrets = secretFile === undefined ? undefined : await ReloadingValue.open({ what: "workspaceSecretFile", paths: [secretFile], load: () => readSecretLines(secretFile), logger });
  const store = await openSpecStore(config, subsystemLogger(logger, "store"));
  const eventsLog = subsystemLogger(logger, "events");
  const events = await openEventBus(config, options.eventBus, eventsLog, "spec-provider");
  const shutdown = new AbortController();
  const imageRefHost = config.specProvider.imageRefHost;
  return {
    config: config.specProvider,
    logger,
    store,
    shutdown: shutdown.signal,
    imageRefFor: (id) => `${imageRefHost}/remote/${id}:latest`,
    auth,
    // The first line signs; the registry accepts every line, so a new secret goes first.
    pullCredential: (id) => (secrets === undefined ? undefined : workspaceCredential(secrets.current[0]!, id)),
    announce: (event) => events.bus.publish(event).catch((err: unknown) => eventsLog.warn({ event, reason: (err as Error).message }, "could not publish a cache-invalidation event")),
    endStreams: () => shutdown.abort(),
    async close() {
      shutdown.abort();
      auth?.close();
      secrets?.close();
      await store.close();
      if (events.owned) await events.bus.close();
    },
  };
}
