import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import type { Server } from "node:https";
import type { Logger } from "../../shared/logging.ts";
import { ReloadingValue } from "../../shared/reloading.ts";

interface Pair {
  cert: Buffer;
  key: Buffer;
}

/**
 * registry.tls: the certificate and key the registry serves, re-read when
 * either file changes (cert-manager and similar tools renew them in place)
 * and put into the running server with setSecureContext: new connections
 * get the new certificate, open ones keep theirs. A pair that does not match
 * (the two files are rarely replaced at the same instant) is refused and the
 * old one kept until the other file follows.
 */
export class ServingCertificate {
  private server: Server | undefined;

  private constructor(private readonly pair: ReloadingValue<Pair>) {}

  static async open(files: { crt: string; key: string }, logger: Logger): Promise<ServingCertificate> {
    const load = async (): Promise<Pair> => {
      const [cert, key] = await Promise.all([readFile(files.crt), readFile(files.key)]);
      try {
        createSecureContext({ cert, key });
      } catch (err) {
        // OpenSSL's reason ("key values mismatch"), never the PEM text.
        throw new Error(`unusable certificate and key: ${(err as Error).message}`);
      }
      return { cert, key };
    };
    let self: ServingCertificate | undefined;
    const pair = await ReloadingValue.open({ what: "registry.tls", paths: [files.crt, files.key], load, logger, onReload: (p) => self?.server?.setSecureContext(p) });
    self = new ServingCertificate(pair);
    return self;
  }

  /** The current pair, as https.createServer takes it. */
  get options(): Pair {
    return this.pair.current;
  }

  /** Later reloads go into this server. */
  attach(server: Server): void {
    this.server = server;
  }

  close(): void {
    this.pair.close();
  }
}
