import { z } from "zod";

/**
 * The one configuration file both services read. Its shape follows Gitpod's
 * registry-facade configuration (registry, blobserve, dockerAuth, ...) so an
 * operator's existing file mostly carries over; the specProvider and nats
 * sections are ours. Every section is strict: an unknown key is an error,
 * because a misspelt key silently falling back to a default is the worse bug.
 * Descriptions feed the generated JSON Schema and docs/configuration.md.
 */

const port = z.number().int().min(0).max(65535);
const listenAddr = z.string().regex(/^[^\s:]*:\d{1,5}$/, "expected host:port");

const tlsFiles = z.strictObject({
  crt: z.string().min(1).describe("PEM certificate file (re-read when it changes)"),
  key: z.string().min(1).describe("PEM private key file"),
});

const staticLayer = z.strictObject({
  ref: z.string().min(1).describe("an image reference (type image) or the path of a .tar.gz file (type file)"),
  type: z.enum(["image", "file"]).describe("image: add all layers of the image; file: add the file as one layer"),
});

const remoteSpecProvider = z.strictObject({
  addr: z.string().regex(/^[^\s]+:\d{1,5}$/, "expected host:port").describe("host:port of a spec-provider"),
  tls: z
    .strictObject({
      ca: z.string().min(1).describe("CA bundle the spec-provider's certificate must chain to"),
      crt: z.string().min(1).optional().describe("client certificate for mutual TLS"),
      key: z.string().min(1).optional().describe("client key for mutual TLS"),
    })
    .optional()
    .describe("TLS towards this spec-provider; absent means plaintext"),
  tokenFile: z.string().min(1).optional().describe("file whose first line is a bearer token sent with every call, for a spec-provider with auth.read (re-read when it changes)"),
});

const platform = z.strictObject({
  os: z.string().min(1).default("linux"),
  architecture: z.string().min(1).default("amd64"),
  variant: z.string().min(1).optional(),
});

export const registrySchema = z.strictObject({
  host: z.string().default("127.0.0.1").describe("interface the registry listens on"),
  port: port.default(32223).describe("port the registry listens on; 0 picks a free one"),
  prefix: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*$/, "expected empty or /segment[/segment...]")
    .default("")
    .describe("path served in front of /v2, e.g. /registry"),
  staticLayer: z.array(staticLayer).default([]).describe("layers added to every composed image, after the base image's"),
  remoteSpecProvider: z.array(remoteSpecProvider).default([]).describe("spec-providers asked for remote/<id>, tried in order"),
  specProviderTimeoutMs: z.number().int().positive().default(5000).describe("deadline of one GetImageSpec call in milliseconds"),
  fixedSpecFN: z.string().min(1).optional().describe("JSON file of named specs (protobuf JSON) served as fixed/<name>"),
  store: z.string().min(1).default(".data/registry").describe("directory for composed manifests and configs and the blob cache"),
  storeMaxBytes: z.number().int().positive().default(10 * 1024 ** 3).describe("upper bound of the blob cache in bytes"),
  storeSweepIntervalMs: z
    .number()
    .int()
    .positive()
    .default(60_000)
    .describe("how often the stored manifests, configs and direct layers of deleted workspaces are removed (those no other workspace uses)"),
  storeSweepGraceMs: z
    .number()
    .int()
    .min(0)
    .default(600_000)
    .describe("a stored blob of a deleted workspace written again within this time is kept (a composition may be about to use it)"),
  specCacheTtlMs: z
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe("how long a spec from the spec-providers is reused while cache-invalidation events arrive (a put or delete drops it at once); 0 asks every time"),
  specCacheTtlWithoutEventsMs: z
    .number()
    .int()
    .min(0)
    .default(2_000)
    .describe("the spec cache's time to live while no events can arrive (NATS disconnected, or no NATS and no shared in-process bus)"),
  tagCacheTtlMs: z
    .number()
    .int()
    .min(0)
    .default(30_000)
    .describe("how long an upstream tag's digest is reused before a HEAD revalidates it; when upstream fails (unreachable, 429, 5xx) the last digest is served with a Warning header"),
  requireAuth: z.boolean().default(false).describe("refuse pulls without valid credentials (needs htpasswd or workspaceSecretFile)"),
  htpasswd: z
    .string()
    .min(1)
    .optional()
    .describe("htpasswd file (bcrypt entries, htpasswd -B) of operators who may pull every repository; re-read when it changes"),
  workspaceSecretFile: z
    .string()
    .min(1)
    .optional()
    .describe("file with the secret workspace pull credentials are derived from (the spec-provider's workspaceSecretFile); every line is accepted, for rotation; re-read when it changes"),
  tls: tlsFiles.optional().describe("serve HTTPS with this certificate and key"),
  ipfs: z
    .strictObject({
      enabled: z.boolean().default(false),
      ipfsAddr: z.string().default(""),
    })
    .optional()
    .describe("accepted for compatibility with Gitpod's configuration"),
  platform: platform.default({ os: "linux", architecture: "amd64" }).describe("platform picked from multi-platform images"),
  insecureRegistries: z
    .array(z.string().min(1))
    .default([])
    .describe("upstream hosts reached over plain HTTP; loopback hosts always are, every other host is HTTPS"),
});

const fileStore = z.strictObject({
  type: z.literal("file"),
  path: z.string().min(1).default(".data/specs").describe("directory holding one JSON file per workspace"),
});

const natsKvStore = z.strictObject({
  type: z.literal("nats-kv"),
  bucket: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("registry-facade-specs")
    .describe("JetStream key-value bucket shared by every spec-provider replica (needs the nats section)"),
});

const access = z
  .strictObject({
    tokenFile: z.string().min(1).optional().describe("file of bearer tokens (one per line, for rotation) accepted in the authorization metadata"),
    clientNames: z
      .array(z.string().min(1))
      .optional()
      .describe("mutual-TLS client certificates accepted by subject CN or DNS subjectAltName (needs specProvider.tls.ca)"),
  })
  .refine((a) => a.tokenFile !== undefined || (a.clientNames?.length ?? 0) > 0, "set tokenFile or clientNames, or nobody is let in");

export const specProviderSchema = z.strictObject({
  host: z.string().default("127.0.0.1").describe("interface the spec-provider listens on"),
  port: port.default(32224).describe("port the spec-provider listens on; 0 picks a free one"),
  store: z
    .discriminatedUnion("type", [fileStore, natsKvStore])
    .default({ type: "file", path: ".data/specs" })
    .describe("where specs are kept: file (one process) or nats-kv (shared by replicas)"),
  maxDirectContentBytes: z.number().int().positive().default(1024 * 1024).describe("largest direct content layer accepted, in bytes"),
  imageRefHost: z
    .string()
    .min(1)
    .default("127.0.0.1:32223")
    .describe("host[:port] runtimes reach the registry at; PutSpec answers <imageRefHost>/remote/<id>:latest"),
  tls: tlsFiles
    .extend({ ca: z.string().min(1).optional().describe("CA for client certificates; set it to require mutual TLS") })
    .strict()
    .optional()
    .describe("serve gRPC over TLS"),
  workspaceSecretFile: z
    .string()
    .min(1)
    .optional()
    .describe("file with the secret workspace pull credentials are derived from; its first line signs, so PutSpec answers carry a credential for registry.requireAuth"),
  auth: z
    .strictObject({
      manage: access.describe("who may call SpecManagementService (put, get, delete, list, watch)"),
      read: access.optional().describe("who may call GetImageSpec besides managers; absent means anyone who can connect"),
    })
    .optional()
    .describe("require authentication for the gRPC APIs; absent means every client is trusted"),
});

export const natsSchema = z.strictObject({
  servers: z.array(z.string().min(1)).min(1).describe("NATS server URLs"),
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
    .default("registry-facade")
    .describe("prefix of the cache-invalidation subjects"),
});

export const blobserveSchema = z.strictObject({
  port: port.default(32225),
  repos: z
    .record(z.string(), z.strictObject({ prePull: z.array(z.string()).default([]), workdir: z.string().default("") }))
    .default({}),
  blobSpace: z.strictObject({ location: z.string().min(1), maxSize: z.number().int().positive() }).optional(),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional().describe("the JSON Schema of this file, for editors; ignored"),
  registry: registrySchema.default(registrySchema.parse({})).describe("the OCI registry service"),
  specProvider: specProviderSchema.default(specProviderSchema.parse({})).describe("the gRPC spec-provider service"),
  nats: natsSchema.optional().describe("NATS for cache-invalidation events; absent means one process with an in-process bus"),
  blobserve: blobserveSchema.optional().describe("accepted for compatibility with Gitpod's configuration"),
  dockerAuth: z.string().min(1).optional().describe("path of a Docker config.json with upstream registry credentials"),
  prometheusAddr: listenAddr.optional().describe("host:port serving Prometheus metrics at /metrics"),
  readinessProbeAddr: listenAddr.optional().describe("host:port serving /live and /ready"),
  pprofAddr: listenAddr.optional().describe("host:port of a debug endpoint"),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("pino log level"),
  shutdownGraceMs: z
    .number()
    .int()
    .nonnegative()
    .default(25_000)
    .describe("on SIGTERM, how long blob streams and gRPC calls in flight may go on before their connections are cut; keep it a few seconds under the orchestrator's kill deadline (Kubernetes: terminationGracePeriodSeconds, 30 s by default)"),
});

export type Config = z.infer<typeof configSchema>;
export type RegistryConfig = Config["registry"];
export type SpecProviderConfig = Config["specProvider"];
export type NatsConfig = z.infer<typeof natsSchema>;
export type StaticLayerConfig = z.infer<typeof staticLayer>;
export type RemoteSpecProviderConfig = z.infer<typeof remoteSpecProvider>;
export type PlatformConfig = z.infer<typeof platform>;
