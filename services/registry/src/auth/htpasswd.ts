import { createHmac, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import bcrypt from "bcryptjs";
import { LRUCache } from "lru-cache";
import type { Logger } from "../../../shared/logging.ts";
import { ReloadingValue } from "../../../shared/reloading.ts";

/** An htpasswd file that cannot be used; the message names the line, never its content. */
export class HtpasswdError extends Error {
  override name = "HtpasswdError";
}

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** user -> bcrypt hash. Only bcrypt: the other htpasswd formats (MD5-crypt, SHA-1, crypt) are too weak to accept. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !BCRYPT.test(hash)) throw new HtpasswdError(`line ${i + 1}: expected user:bcrypt-hash (htpasswd -B)`);
    users.set(line.slice(0, colon), hash);
  });
  return users;
}

interface Loaded {
  users: Map<string, string>;
  /** Credentials that passed bcrypt, so a pull of many blobs costs one bcrypt, not one per request. */
  verified: LRUCache<string, true>;
}

/**
 * The operators' htpasswd file (registry.htpasswd), reloaded when it changes;
 * a reload also forgets every verified credential, so a removed user or a
 * changed password is refused from then on.
 */
export class Htpasswd {
  /** Verified credentials are remembered by a keyed hash, never as they are. */
  private readonly cacheKey = randomBytes(32);

  private constructor(private readonly file: ReloadingValue<Loaded>) {}

  static async open(path: string, logger: Logger): Promise<Htpasswd> {
    const load = async (): Promise<Loaded> => ({ users: parseHtpasswd(await readFile(path, "utf8")), verified: new LRUCache({ max: 1_000 }) });
    return new Htpasswd(await ReloadingValue.open({ what: "htpasswd", paths: [path], load, logger }));
  }

  async verify(user: string, password: string): Promise<boolean> {
    const { users, verified } = this.file.current;
    const hash = users.get(user);
    if (hash === undefined) return false;
    const key = createHmac("sha256", this.cacheKey).update(`${user.length}:${user}`).update(password).digest("base64");
    if (verified.has(key)) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    verified.set(key, true);
    return true;
  }

  close(): void {
    this.file.close();
  }
}
