import { join } from "node:path";
import { parseConfig } from "../../services/shared/config/load.ts";
import type { ComposeService, FacadeProcess } from "./compose.ts";

/**
 * Where every compose address is reached when each service is a local
 * process instead: one loopback port per (service, container port). With
 * "published" ports, a port compose publishes keeps its host port (so the
 * README's addresses work either way) and every other port gets a free one;
 * with "ephemeral" ports (tests) every port is a free one.
 */
export class AddressTable {
  private constructor(
    private readonly ports: Map<string, number>,
    private readonly owners: Map<number, string>,
    private readonly services: ReadonlyMap<string, ComposeService>,
  ) {}

  static async allocate(services: ReadonlyMap<string, ComposeService>, mode: "published" | "ephemeral", freePort: () => Promise<number>): Promise<AddressTable> {
    const ports = new Map<string, number>();
    const owners = new Map<number, string>();
    for (const service of services.values()) {
      for (const container of service.containerPorts) {
        const host = service.published.find((p) => p.container === container)?.host;
        ports.set(key(service.name, container), mode === "published" && host !== undefined ? host : await freePort());
        if (host !== undefined) owners.set(host, key(service.name, container));
      }
    }
    return new AddressTable(ports, owners, services);
  }

  /** The loopback port of a service's container port; a port compose neither publishes nor exposes is an error. */
  port(service: string, containerPort: number): number {
    const port = this.ports.get(key(service, containerPort));
    if (port === undefined) throw new Error(`${service}:${containerPort} is neither published nor exposed in docker-compose.yml`);
    return port;
  }

  /** Every (service:port → 127.0.0.1:port) pair, for cluster.json. */
  entries(): Record<string, string> {
    return Object.fromEntries([...this.ports].map(([k, port]) => [k, `127.0.0.1:${port}`]));
  }

  /**
   * Rewrites every HOST:PORT in text as the process of service `self` sees
   * it: 0.0.0.0 is self's own port, a service name is that service's port,
   * 127.0.0.1 or localhost with a published port is the publishing service's.
   */
  rewrite(text: string, self: string): string {
    return text.replace(/(?<![\w.-])([A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})(?!\d)/g, (whole, host: string, port: string) => {
      const n = Number(port);
      if (host === "0.0.0.0") return `127.0.0.1:${this.port(self, n)}`;
      if (this.services.has(host)) return `127.0.0.1:${this.port(host, n)}`;
      const owner = host === "127.0.0.1" || host === "localhost" ? this.owners.get(n) : undefined;
      return owner === undefined ? whole : `127.0.0.1:${this.ports.get(owner)}`;
    });
  }
}

const key = (service: string, port: number) => `${service}:${port}`;

/**
 * A facade service's configuration for a local process, derived from the
 * file compose mounts: addresses rewritten, its own listening port moved,
 * paths inside its named volumes moved under dataDir/<service>/<volume>.
 */
export function localConfig(raw: Record<string, unknown>, service: ComposeService, process: FacadeProcess, table: AddressTable, dataDir: string): Record<string, unknown> {
  const volumes = service.mounts.filter((m) => !m.bind);
  const rewriteString = (value: string): string => {
    if (value === "0.0.0.0") return "127.0.0.1";
    const volume = volumes.find((v) => value === v.target || value.startsWith(`${v.target}/`));
    if (volume) return join(dataDir, service.name, volume.source, value.slice(volume.target.length));
    return table.rewrite(value, service.name);
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === "string") return rewriteString(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  // $schema is relative to the original file and means nothing next to the generated one.
  const { $schema: _schema, ...rest } = raw;
  const config = walk(rest) as Record<string, Record<string, unknown>>;
  // The section of the service this process runs listens on its own port;
  // the other section is not used by this process.
  // (parseConfig also fills in the default port when the file leaves it out.)
  const section = process.kind === "registry" ? "registry" : "specProvider";
  const port = parseConfig(raw, process.configFile)[section].port;
  config[section] = { ...config[section], port: table.port(service.name, port) };
  return config;
}
