import { z } from "zod";

/**
 * The one configuration file both services read. Its shape follows Gitpod's
 * registry-facade configuration (registry, blobserve, dockerAuth, ...) so an
 * operator's existing file mostly carries over; the specProvider and nats
 * sections are ours. Every section is strict: an unknown key is an error,
 * because a misspelt key silently falling back to a default is the worse bug.
 */

const port = z.number().int().min(0).max(65535);
/** host:port, as in Gitpod's prometheusAddr / readinessProbeAddr. */
const listenAddr = z.string().regex(/^[^\s:]*:\d{1,5}$/, "expected host:port");

const tlsFiles = z.strictObject({
  crt: z.string().min(1),
  key: z.string().min(1),
});

const staticLayer = z.strictObject({
  /** An image reference (type image) or the path of a .tar.gz (type file). */
  ref: z.string().min(1),
  type: z.enum(["image", "file"]),
});

const remoteSpecProvider = z.strictObject({
  /** host:port of a spec-provider. */
  addr: z.string().regex(/^[^\s]+:\d{1,5}$/, "expected host:port"),
  /** Mutual TLS towards the spec-provider; absent means plaintext. */
  tls: z
    .strictObject({
      ca: z.string().min(1),
      crt: z.string().min(1).optional(),
      key: z.string().min(1).optional(),
    })
    .optional(),
});

const platform = z.strictObject({
  os: z.string().min(1).default("linux"),
  architecture: z.string().min(1).default("amd64"),
  variant: z.string().min(1).optional(),
});

export const registrySchema = z.strictObject({
  /** Interface the registry listens on. Loopback unless configured. */
  host: z.string().default("127.0.0.1"),
  port: port.default(32223),
  /** Served in front of /v2, e.g. "/registry" gives /registry/v2/... */
  prefix: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*$/, "expected empty or /segment[/segment...]")
    .default(""),
  /** Layers added to every composed image, after the base image's. */
  staticLayer: z.array(staticLayer).default([]),
  /** Spec-providers asked for remote/<id>, tried in order. */
  remoteSpecProvider: z.array(remoteSpecProvider).default([]),
  /** Deadline of one GetImageSpec call, in milliseconds. */
  specProviderTimeoutMs: z.number().int().positive().default(5000),
  /** JSON file of named specs (protobuf JSON) served as fixed/<name>. */
  fixedSpecFN: z.string().min(1).optional(),
  /** Directory for composed manifests and configs and the blob cache. */
  store: z.string().min(1).default(".data/registry"),
  /** Upper bound of the blob cache in bytes. */
  storeMaxBytes: z.number().int().positive().default(10 * 1024 ** 3),
  requireAuth: z.boolean().default(false),
  tls: tlsFiles.optional(),
  ipfs: z
    .strictObject({
      enabled: z.boolean().default(false),
      ipfsAddr: z.string().default(""),
    })
    .optional(),
  /** The platform picked from a multi-platform base or add-on image. */
  platform: platform.default({ os: "linux", architecture: "amd64" }),
  /**
   * Upstream registries reached over plain HTTP. Loopback hosts always are;
   * every other host is HTTPS unless listed here.
   */
  insecureRegistries: z.array(z.string().min(1)).default([]),
});

const fileStore = z.strictObject({
  type: z.literal("file"),
  /** Directory holding one JSON file per workspace. */
  path: z.string().min(1).default(".data/specs"),
});

const natsKvStore = z.strictObject({
  type: z.literal("nats-kv"),
  /** JetStream key-value bucket shared by every spec-provider replica. */
  bucket: z.string().regex(/^[A-Za-z0-9_-]+$/).default("registry-facade-specs"),
});

export const specProviderSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: port.default(32224),
  store: z.discriminatedUnion("type", [fileStore, natsKvStore]).default({ type: "file", path: ".data/specs" }),
  /** Largest DirectContentLayer accepted, in bytes. */
  maxDirectContentBytes: z.number().int().positive().default(1024 * 1024),
  /**
   * host[:port] the container runtimes reach the registry at; PutSpec answers
   * with <imageRefHost>/remote/<id>:latest.
   */
  imageRefHost: z.string().min(1).default("127.0.0.1:32223"),
  tls: tlsFiles.extend({ ca: z.string().min(1).optional() }).strict().optional(),
});

export const natsSchema = z.strictObject({
  servers: z.array(z.string().min(1)).min(1),
  /** Subject prefix of cache-invalidation events. */
  subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/).default("registry-facade"),
});

export const blobserveSchema = z.strictObject({
  port: port.default(32225),
  repos: z.record(z.string(), z.strictObject({ prePull: z.array(z.string()).default([]), workdir: z.string().default("") })).default({}),
  blobSpace: z
    .strictObject({ location: z.string().min(1), maxSize: z.number().int().positive() })
    .optional(),
});

export const configSchema = z.strictObject({
  registry: registrySchema.default(registrySchema.parse({})),
  specProvider: specProviderSchema.default(specProviderSchema.parse({})),
  /** NATS carries cache-invalidation events; absent means one process with an in-process bus. */
  nats: natsSchema.optional(),
  blobserve: blobserveSchema.optional(),
  /** Path of a Docker config.json with upstream credentials. */
  dockerAuth: z.string().min(1).optional(),
  prometheusAddr: listenAddr.optional(),
  readinessProbeAddr: listenAddr.optional(),
  pprofAddr: listenAddr.optional(),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = z.infer<typeof configSchema>;
export type RegistryConfig = Config["registry"];
export type SpecProviderConfig = Config["specProvider"];
export type NatsConfig = z.infer<typeof natsSchema>;
export type StaticLayerConfig = z.infer<typeof staticLayer>;
export type RemoteSpecProviderConfig = z.infer<typeof remoteSpecProvider>;
export type PlatformConfig = z.infer<typeof platform>;
