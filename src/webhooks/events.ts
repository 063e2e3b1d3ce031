/**
 * @module
 * The events Boreas tells the backend about, and their JSON shape. Pure.
 */

/** Every event a webhook batch may hold. `id` is unique (receivers deduplicate by it), `time`
 * is Unix milliseconds. */
export type WebhookEvent =
  & { readonly id: string; readonly time: number }
  & (
    | {
      readonly type: "connection.authenticated";
      readonly user: string | null;
      readonly "token_fingerprint": string;
      readonly node: string | null;
    }
    | {
      readonly type: "connection.closed";
      readonly user: string | null;
      readonly "token_fingerprint": string;
      readonly code: number;
      readonly reason: string;
      readonly node: string | null;
    }
    | { readonly type: "channel.occupied" | "channel.vacated"; readonly channel: string }
  );

/** An event without its `id` and `time`, as its source describes it. */
export type EventBody = WebhookEvent extends infer E
  ? E extends WebhookEvent ? Omit<E, "id" | "time"> : never
  : never;

/** `body` stamped with a fresh id and the time now. */
export function stamp(body: EventBody, now: number = Date.now()): WebhookEvent {
  return { id: crypto.randomUUID(), time: now, ...body } as WebhookEvent;
}

/** Where events go; emitting never waits and never fails. */
export interface EventSink {
  emit(body: EventBody): void;
}

/** A sink that drops everything: webhooks are off. */
export const NO_EVENTS: EventSink = { emit() {} };
