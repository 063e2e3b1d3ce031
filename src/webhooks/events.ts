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
      readonly node: string;
    }
    | {
      readonly type: "connection.closed";
      readonly user: string | null;
      readonly "token_fingerprint": string;
      readonly code: number;
      readonly reason: string;
      readonly node: string;
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

/** One connection's `connection.authenticated` and `connection.closed` events: the closed one
 * names the token and user the connection last authenticated with. */
export class ConnectionEvents {
  readonly #sink: EventSink;
  readonly #node: string;
  #last: { fingerprint: string; user: string | null } | null = null;

  constructor(sink: EventSink, node: string) {
    this.#sink = sink;
    this.#node = node;
  }

  /** Tells the sink the connection authenticated with the token of `fingerprint`. */
  authenticated(fingerprint: string, user: string | null): void {
    this.#last = { fingerprint, user };
    this.#sink.emit({
      type: "connection.authenticated",
      user,
      token_fingerprint: fingerprint,
      node: this.#node,
    });
  }

  /** Tells the sink the connection closed, if it ever authenticated. */
  closed(code: number, reason: string): void {
    if (this.#last === null) return;
    const { fingerprint, user } = this.#last;
    this.#sink.emit({
      type: "connection.closed",
      user,
      token_fingerprint: fingerprint,
      code,
      reason,
      node: this.#node,
    });
  }
}
