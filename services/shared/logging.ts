import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

/**
 * Paths pino blanks out wherever they appear in a log object, so a credential
 * that reaches a log call by accident never reaches the log.
 */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "token",
  "*.token",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  "identitytoken",
  "*.identitytoken",
  "auth",
  "*.auth",
  // A Docker config.json (dockerAuth) or a token response, should one be logged whole.
  "auths.*.auth",
  "auths.*.password",
  "auths.*.identitytoken",
  "identityToken",
  "*.identityToken",
  "access_token",
  "refresh_token",
];

export interface LoggerSettings {
  level: LoggerOptions["level"];
  /** The service name, as in OpenTelemetry's service.name. */
  service: string;
  destination?: pino.DestinationStream;
}

/** The root logger of a process; subsystems take a child with subsystemLogger. */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: settings.service },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}

export function subsystemLogger(root: Logger, subsystem: string): Logger {
  return root.child({ subsystem });
}
