import { z } from "zod";

/**
 * Cache-invalidation events. The spec-provider publishes one on every put and
 * delete, a registry publishes one when its static layers change; every
 * registry replica drops what it cached for the subject of the event.
 * Revisions travel as decimal strings: they are uint64 and JSON numbers are not.
 */
export const facadeEventSchema = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("spec.put"), id: z.string().min(1), revision: z.string().regex(/^\d+$/) }),
  z.strictObject({ type: z.literal("spec.delete"), id: z.string().min(1), revision: z.string().regex(/^\d+$/) }),
  z.strictObject({ type: z.literal("static-layers.changed"), fingerprint: z.string().min(1) }),
]);

export type FacadeEvent = z.infer<typeof facadeEventSchema>;
export type FacadeEventHandler = (event: FacadeEvent) => void;

export interface EventBus {
  publish(event: FacadeEvent): Promise<void>;
  /** Calls handler for every event from now on; returns the unsubscribe function. */
  subscribe(handler: FacadeEventHandler): () => void;
  /**
   * Calls handler whenever events may have been missed (a reconnect after an
   * outage), so the subscriber can drop everything it cached.
   */
  onEventsMissed(handler: () => void): () => void;
  /**
   * Calls handler with false when events stop arriving (connection lost) and
   * true when they flow again. A bus that cannot lose its connection has none.
   */
  onConnectionChange?(handler: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}

/** The subject an event is published on: <prefix>.events.<type>. */
export function eventSubject(prefix: string, event: FacadeEvent): string {
  return `${prefix}.events.${event.type}`;
}

/** The wildcard a subscriber listens on. */
export function allEventsSubject(prefix: string): string {
  return `${prefix}.events.>`;
}
