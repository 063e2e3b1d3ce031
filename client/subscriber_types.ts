/**
 * @module
 * The shapes `BoreasSubscriber` takes and yields: its options, states and messages.
 */

import type { ReconnectOptions } from "./backoff.ts";

/** Where a subscriber is:
 *
 * - `connecting`: before its first connection is authenticated and in its channels,
 *   including retries when that fails;
 * - `open`: authenticated and in every channel it joined; broadcasts arrive;
 * - `reconnecting`: a connection that was open dropped; retrying with back-off;
 * - `closed`: for good, by `close()` or because of an error (see `error`).
 *
 * ```ts
 * import type { SubscriberState } from "./mod.ts";
 *
 * const isLive = (state: SubscriberState) => state === "open";
 * ```
 */
export type SubscriberState = "connecting" | "open" | "reconnecting" | "closed";

/** One broadcast received: the channel it was published to and its payload.
 *
 * ```ts
 * import type { BroadcastMessage } from "./mod.ts";
 *
 * const show = ({ channel, message }: BroadcastMessage<{ text: string }>) =>
 *   `${channel}: ${message.text}`;
 * ```
 */
export interface BroadcastMessage<T = unknown> {
  /** The channel the broadcast was published to. */
  readonly channel: string;
  /** The broadcast's `payload`, as JSON parsed it; not checked against `T`. */
  readonly message: T;
}

/** A `WebSocket` class, e.g. `globalThis.WebSocket` or a test double.
 *
 * ```ts
 * import type { WebSocketConstructor } from "./mod.ts";
 *
 * const Native: WebSocketConstructor = WebSocket;
 * ```
 */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of `new BoreasSubscriber()` and `BoreasSubscriber.connect()`.
 *
 * ```ts
 * import type { BoreasSubscriberOptions } from "./mod.ts";
 *
 * const options: BoreasSubscriberOptions = {
 *   url: "wss://push.example.com/",
 *   token: "T",
 *   channels: ["news"],
 *   reconnect: { initialDelayMs: 1_000, maxDelayMs: 60_000, factor: 2 },
 *   onStateChange: (state) => console.log("boreas:", state),
 * };
 * ```
 */
export interface BoreasSubscriberOptions {
  /** The WebSocket endpoint, e.g. `ws://localhost:8002/`; `http:` and `https:` are taken
   * as `ws:` and `wss:`. */
  readonly url: string | URL;
  /** The token to authenticate with, from `BoreasApi.createToken()` or your backend. */
  readonly token: string;
  /** Channels to join as part of connecting. Default: none. */
  readonly channels?: readonly string[];
  /** Back-off between connection attempts, or `false` to end the subscription with a
   * `disconnected` error when the connection drops. Default: `DEFAULT_RECONNECT`. */
  readonly reconnect?: ReconnectOptions | false;
  /** How long to wait for the server's reply to a message before taking the connection for
   * dead and reconnecting, in milliseconds. Default 10 000. */
  readonly replyTimeoutMs?: number;
  /** The WebSocket class to use. Default: `globalThis.WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /** Called after every state change, with the new state (not for the initial
   * `connecting`). An exception it throws is reported asynchronously and changes nothing. */
  readonly onStateChange?: (state: SubscriberState) => void;
  /** Closes the subscriber when aborted. */
  readonly signal?: AbortSignal;
}

/** What the waits take: a signal that abandons the wait.
 *
 * ```ts
 * import type { WaitOptions } from "./mod.ts";
 *
 * const fiveSeconds: WaitOptions = { signal: AbortSignal.timeout(5_000) };
 * ```
 */
export interface WaitOptions {
  /** Abandons the wait, which then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}
