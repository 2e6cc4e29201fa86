import type { Config } from "../../../shared/config/schema.ts";
import type { Logger } from "../../../shared/logging.ts";
import { FileSpecStore } from "./file-store.ts";
import { NatsKvSpecStore } from "./nats-kv-store.ts";
import type { SpecStore } from "./types.ts";

export type { SpecStore, StoredRecord, StoreEvent } from "./types.ts";

/** The store the configuration selects. */
export async function openSpecStore(config: Config, logger: Logger): Promise<SpecStore> {
  const store = config.specProvider.store;
  switch (store.type) {
    case "file":
      return FileSpecStore.open(store.path, logger);
    case "nats-kv":
      if (config.nats === undefined) throw new Error("specProvider.store.type nats-kv needs a nats section with servers");
      return NatsKvSpecStore.open(config.nats.servers, store.bucket, logger);
  }
}
