/**
 * @module
 * Helpers for the client's tests: a subscriber wired to a test server with fast back-off, waits
 * on what it yields, each with a timeout naming what it waited for, and a dropped connection.
 */

import assert from "node:assert/strict";
import {
  BoreasApi,
  BoreasSubscriber,
  type BoreasSubscriberOptions,
  type BroadcastMessage,
  type ReconnectOptions,
  type SubscriberEvent,
  type SubscriberState,
} from "../client/mod.ts";
import { type TestServer, withTimeout } from "./helpers.ts";

/** Back-off short enough for tests, long enough not to spin. */
export const FAST_RECONNECT: ReconnectOptions = { initialDelayMs: 5, maxDelayMs: 50, factor: 2 };

/** A `BoreasApi` for `server`'s HTTP API. */
export function apiOf(server: TestServer, apiKey?: string): BoreasApi {
  return new BoreasApi(
    apiKey === undefined ? { url: server.apiUrl } : { url: server.apiUrl, apiKey },
  );
}

/** A subscriber to `server` that records its states in `states`, with `FAST_RECONNECT`. */
export function subscriberOf(
  server: { readonly wsUrl: string },
  token: string,
  options: Partial<BoreasSubscriberOptions> & { states?: SubscriberState[] } = {},
): BoreasSubscriber {
  const { states, ...rest } = options;
  return new BoreasSubscriber({
    url: server.wsUrl,
    token,
    reconnect: FAST_RECONNECT,
    ...(states === undefined ? {} : { onStateChange: (state) => states.push(state) }),
    ...rest,
  });
}

/** The next broadcast `subscriber` yields; fails when none comes within the wait. */
export async function nextMessage(
  subscriber: BoreasSubscriber,
  what = "a broadcast",
): Promise<BroadcastMessage> {
  const result = await withTimeout(subscriber[Symbol.asyncIterator]().next(), what);
  if (result.done) throw new Error(`the subscription ended while waiting for ${what}`);
  return result.value;
}

/** The next event `subscriber.events()` yields; fails when none comes within the wait. */
export async function nextEvent(
  events: AsyncIterator<SubscriberEvent, undefined>,
  what: string,
): Promise<SubscriberEvent> {
  const result = await withTimeout(events.next(), what);
  if (result.done) throw new Error(`the subscription ended while waiting for ${what}`);
  return result.value;
}

/** Closes the one connection of `token` from the server's side, as a network drop would; the
 * subscriber reconnects (4500 is neither 4001 nor 4003). */
export function dropConnections(server: TestServer, token: string): void {
  assert.equal(server.hub.disconnectToken(token, 4500, "test drop"), 1);
}

/** What iterating `subscriber` to its end throws; fails when it ends without an error. */
export async function iterationError(subscriber: BoreasSubscriber): Promise<unknown> {
  const drain = async () => {
    for await (const _ of subscriber) { /* drop queued messages */ }
  };
  try {
    await withTimeout(drain(), "the subscription to end");
  } catch (error) {
    return error;
  }
  throw new Error("the subscription ended without an error");
}

/** Waits for an `auto` subscriber behind an SSE-only proxy to open over SSE after exactly two
 * WebSocket attempts, then checks that a broadcast reaches it through the stream. */
export async function assertFellBackToSse(
  subscriber: BoreasSubscriber<unknown>,
  proxy: { readonly upgrades: number; readonly forwardedStreams: number },
  api: BoreasApi,
): Promise<void> {
  await withTimeout(subscriber.untilOpen(), "the subscriber to open over SSE");
  assert.equal(subscriber.transport, "sse");
  assert.equal(proxy.upgrades, 2);
  assert.equal(proxy.forwardedStreams, 1);
  assert.equal(await api.broadcast("news", "through"), 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: "through" });
}
