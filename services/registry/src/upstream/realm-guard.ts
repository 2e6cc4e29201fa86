import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { RegistryError } from "../errors.ts";

/**
 * A token realm is a URL an upstream registry names in its 401 answer, and
 * the registry then requests it, possibly with credentials. A hostile or
 * compromised upstream must not be able to point that request at the cloud
 * metadata service (which hands out the node's cloud credentials) and so use
 * the registry as a request forwarder. Link-local addresses and the metadata
 * host names are refused, by name before the request and by address after
 * DNS resolution (a name can resolve to 169.254.169.254). Loopback and
 * private networks stay allowed: registries and their token services often
 * live there.
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
 * Parses and checks a realm: http or https only, plain http only where the
 * operator allows plain HTTP to that host (credentials may go with the
 * request), no forbidden address or metadata name.
 */
export function checkRealm(realm: string, plainHttpAllowed: (host: string) => boolean): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw refused(realm, "not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw refused(realm, "scheme must be http or https");
  if (url.protocol === "http:" && !plainHttpAllowed(url.host)) throw refused(realm, "plain http to a host not allowed plain HTTP");
  if (url.username !== "" || url.password !== "") throw refused(realm, "credentials in the URL");
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase();
  if (isForbiddenAddress(hostname) || METADATA_HOSTS.has(hostname)) throw refused(realm, "link-local or metadata address");
  return url;
}

function refused(realm: string, reason: string): RegistryError {
  // Only scheme and host go into the error: a realm's query could carry anything.
  let where = "(unparseable)";
  try {
    const url = new URL(realm);
    where = `${url.protocol}//${url.host}`;
  } catch {
    // keep the placeholder
  }
  return new RegistryError("UPSTREAM_INVALID", "upstream named an authentication realm this registry will not contact", { realm: where, reason });
}

/**
 * A DNS lookup for the token service's connections that fails when any
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
