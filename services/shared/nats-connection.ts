import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Ends a NATS connection: drained (what was published is delivered, then it
 * closes) when the server is there; just closed when it is not, since
 * draining needs the server and a reconnecting connection left open keeps
 * the process alive.
 */
export async function drainOrClose(connection: NatsConnection): Promise<void> {
  if (connection.isClosed()) return;
  try {
    await connection.drain();
  } catch {
    await connection.close();
  }
}
