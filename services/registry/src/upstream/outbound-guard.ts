import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { RegistryError } from "../errors.ts";

/**
 * Every URL the registry requests comes from someone else: registry hosts
 * from image references in specs, token realms from an upstream's 401,
 * redirect targets from an upstream's 3xx, content URLs from specs. None of
 * them may point the registry at the cloud metadata service (which hands out
 * the node's cloud credentials) and so use it as a request forwarder.
 * Link-local addresses and the metadata host names are refused, by name
 * before the request and by address after DNS resolution (a name can resolve
 * to 169.254.169.254). Loopback and private networks stay allowed:
 * registries, CDNs and token services often live there.
 */
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet("169.254.0.0", 16, "ipv4"); // link-local, AWS/GCP/Azure/OpenStack metadata
FORBIDDEN.addSubnet("0.0.0.0", 8, "ipv4"); // "this network": reaches the local host on Linux
FORBIDDEN.addAddress("100.100.100.200", "ipv4"); // Alibaba Cloud metadata
FORBIDDEN.addSubnet("fe80::", 10, "ipv6"); // link-local
FORBIDDEN.addAddress("fd00:ec2::254", "ipv6"); // AWS metadata over IPv6

const METADATA_HOSTS = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.internal"]);

/** True for an IP address (v4, v6, or v4-mapped v6) a realm must not reach. */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return FORBIDDEN.check(mapped[1]!, "ipv4");
    return FORBIDDEN.check(address, "ipv6");
  }
  return FORBIDDEN.check(address, "ipv4");
}

/**
 * Parses and checks a URL the registry is about to request: http or https,
 * no credentials in it, no forbidden address or metadata name. what names
 * the kind of URL in the error ("authentication realm", "redirect target");
 * a relative target (a Location header) is resolved against base.
 */
export function checkOutboundUrl(target: string, what: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    throw refused(target, what, "not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw refused(target, what, "scheme must be http or https");
  if (url.username !== "" || url.password !== "") throw refused(target, what, "credentials in the URL");
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase();
  if (isForbiddenAddress(hostname) || METADATA_HOSTS.has(hostname)) throw refused(target, what, "link-local or metadata address");
  return url;
}

/**
 * A token realm, checked as any outbound URL and more: credentials may go
 * with the request, so plain http only where the operator allows plain HTTP
 * to that host.
 */
export function checkRealm(realm: string, plainHttpAllowed: (host: string) => boolean): URL {
  const url = checkOutboundUrl(realm, "authentication realm");
  if (url.protocol === "http:" && !plainHttpAllowed(url.host)) throw refused(realm, "authentication realm", "plain http to a host not allowed plain HTTP");
  return url;
}

function refused(target: string, what: string, reason: string): RegistryError {
  // Only scheme and host go into the error: a URL's query could carry anything (signatures, tokens).
  let where = "(unparseable)";
  try {
    const url = new URL(target);
    where = `${url.protocol}//${url.host}`;
  } catch {
    // keep the placeholder
  }
  return new RegistryError("UPSTREAM_INVALID", `refusing to contact an upstream ${what}`, { url: where, reason });
}

/**
 * A DNS lookup for outbound connections that fails when any
 * address of the name is forbidden (checking only the first would let a name
 * with several addresses slip through on the connection attempt that follows).
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true } as LookupAllOptions, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, "", 0);
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) return callback(Object.assign(new Error(`${hostname} resolves to a forbidden address`), { code: "EFORBIDDEN" }), "", 0);
    if ((options as LookupOneOptions & { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
    callback(null, first.address, first.family);
  });
};
