import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../services/shared/logging.ts";

/**
 * Every log line of the services a test file starts, at trace level, through
 * the services' own logger (and so its redaction), to check at the end that
 * no secret of the whole scenario ever reached a log line.
 */
export class LogCapture {
  readonly lines: string[] = [];
  private readonly destination = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });

  logger(service: string): Logger {
    return createLogger({ level: "trace", service, destination: this.destination });
  }

  /** Fails naming the secret (by index) and the line that carries it. */
  assertNoSecrets(secrets: readonly string[]): void {
    assert.ok(this.lines.length > 0, "no log lines were captured");
    secrets.forEach((secret, i) => {
      assert.ok(secret.length >= 6, `secret #${i} is too short to grep for`);
      const line = this.lines.find((l) => l.includes(secret));
      assert.equal(line, undefined, `secret #${i} appears in a log line`);
    });
  }
}
