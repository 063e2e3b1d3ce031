/**
 * @module
 * What the subscriber decides from what it is given or what the server did: which options it
 * accepts, and which closes end a subscription rather than lead to a reconnect. Pure.
 */

import { type ReconnectOptions, resolveReconnect } from "./backoff.ts";
import { type CloseInfo, ReplyError } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import type {
  BoreasSubscriberOptions,
  SubscriberTransport,
  WebSocketConstructor,
} from "./subscriber_types.ts";

/** The server closed the connection because its token was revoked. */
export const CLOSE_TOKEN_REVOKED = 4001;
/** The server closed the connection because it stayed anonymous too long. */
export const CLOSE_AUTH_TIMEOUT = 4003;
/** 4003 closes in a row after which the subscriber gives up: the client authenticates as soon
 * as it connects, so one can be a stalled network, but several mean something else is wrong. */
export const MAX_AUTH_TIMEOUTS = 3;

/** The error that ends a subscription after `close`, or undefined when it should reconnect.
 * `authTimeouts` counts the 4003 closes in a row, this one included. */
export function terminalError(
  close: CloseInfo,
  options: { readonly authTimeouts: number; readonly canReconnect: boolean },
): BoreasSubscriberError | undefined {
  const { authTimeouts, canReconnect } = options;
  const described = `${close.code}${close.reason === "" ? "" : ` ${close.reason}`}`;
  if (close.code === CLOSE_TOKEN_REVOKED) {
    return new BoreasSubscriberError("token-revoked", `token revoked (${described})`, { close });
  }
  if (close.code === CLOSE_AUTH_TIMEOUT && authTimeouts >= MAX_AUTH_TIMEOUTS) {
    const message = `authentication timed out ${authTimeouts} times in a row (${described})`;
    return new BoreasSubscriberError("auth-timeout", message, { close });
  }
  if (!canReconnect) {
    return new BoreasSubscriberError("disconnected", `connection closed (${described})`, {
      close,
    });
  }
  return undefined;
}

/** Whether an error reply says the server could not act now (a cluster node whose Redis is
 * unreachable: `access_token: cannot be checked now (...)`, `channels.join: cannot be joined
 * now (...)`), so that trying again later may work. */
export function isTemporaryRefusal(message: string): boolean {
  return /: cannot be (checked|joined) now \(/.test(message);
}

/** What a join, leave or publication that failed with `failure` rejects with: `rejected` for
 * the server's refusal, the error itself when the refusal ended the subscriber; undefined when
 * the connection was lost. */
export function refusalError(failure: unknown): BoreasSubscriberError | undefined {
  if (failure instanceof ReplyError) {
    return new BoreasSubscriberError("rejected", failure.message, { cause: failure });
  }
  return failure instanceof BoreasSubscriberError ? failure : undefined;
}

/** The error for a call on a subscriber closed by its owner. */
export function closedError(): BoreasSubscriberError {
  return new BoreasSubscriberError("closed", "subscriber closed");
}

/** `input` as a `ws:` or `wss:` URL string; `http:` and `https:` are mapped to them. Throws
 * `TypeError` for anything else. */
export function webSocketUrl(input: string | URL): string {
  const url = new URL(input);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new TypeError(`url: expected a ws: or wss: URL, got ${JSON.stringify(url.href)}`);
  }
  return url.href;
}

/** The Server-Sent Events endpoint beside the WebSocket one at `webSocket` (a `ws:` or
 * `wss:` URL): `http:` or `https:`, and `events` after its path, e.g. `ws://host:8002/` →
 * `http://host:8002/events`, `wss://host/boreas/` → `https://host/boreas/events`. */
export function eventsUrl(webSocket: string): string {
  const url = new URL(webSocket);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/events`;
  url.hash = "";
  return url.href;
}

/** How long an SSE stream may stay silent before it is taken for dead, in milliseconds: the
 * server sends a comment every 15 s, so this misses two and a half of them. */
export const DEFAULT_SSE_IDLE_TIMEOUT_MS = 40_000;

const TRANSPORTS: readonly SubscriberTransport[] = ["websocket", "sse", "auto"];

/** A subscriber's options, checked, with the defaults filled in. */
export interface SubscriberSettings {
  /** A `ws:` or `wss:` URL. */
  readonly url: string;
  /** The SSE endpoint, an `http:` or `https:` URL without channels. */
  readonly eventsUrl: string;
  readonly token: string;
  /** Undefined when reconnecting is off. */
  readonly reconnect: Required<ReconnectOptions> | undefined;
  readonly replyTimeoutMs: number;
  readonly sseIdleTimeoutMs: number;
  readonly transport: SubscriberTransport;
  /** Undefined only with `transport: "auto"` where there is none: SSE is then used. */
  readonly WebSocket: WebSocketConstructor | undefined;
  /** Undefined only with `transport: "websocket"`. */
  readonly fetch: typeof fetch | undefined;
}

/** Checks `options` and fills in the defaults: throws `TypeError` for a URL that is not
 * `ws:`/`wss:` (or `http:`/`https:`), an empty token, an unknown transport, or no WebSocket
 * class (no `fetch`) where the transport needs one, and `RangeError` for bad `reconnect`,
 * `replyTimeoutMs` or `sseIdleTimeoutMs` values. */
export function resolveSubscriberOptions(options: BoreasSubscriberOptions): SubscriberSettings {
  const { token, reconnect, transport = "websocket" } = options;
  const { replyTimeoutMs = 10_000, sseIdleTimeoutMs = DEFAULT_SSE_IDLE_TIMEOUT_MS } = options;
  if (typeof token !== "string" || token === "") {
    throw new TypeError("token: expected a non-empty string");
  }
  for (const [name, value] of Object.entries({ replyTimeoutMs, sseIdleTimeoutMs })) {
    if (!(value > 0)) throw new RangeError(`${name}: expected a number > 0, got ${value}`);
  }
  if (!TRANSPORTS.includes(transport)) {
    const expected = `"websocket", "sse" or "auto"`;
    throw new TypeError(`transport: expected ${expected}, got ${JSON.stringify(transport)}`);
  }
  const url = webSocketUrl(options.url);
  return {
    url,
    eventsUrl: eventsUrl(url),
    token,
    reconnect: reconnect === false ? undefined : resolveReconnect(reconnect),
    replyTimeoutMs,
    sseIdleTimeoutMs,
    transport,
    WebSocket: webSocketClass(options.WebSocket, transport),
    fetch: fetchFunction(options.fetch, transport),
  };
}

function webSocketClass(
  given: WebSocketConstructor | undefined,
  transport: SubscriberTransport,
): WebSocketConstructor | undefined {
  const WebSocket = given ?? globalThis.WebSocket;
  if (typeof WebSocket === "function") return WebSocket;
  if (transport !== "websocket") return undefined;
  throw new TypeError("WebSocket: no WebSocket class given and none is global");
}

function fetchFunction(
  given: typeof fetch | undefined,
  transport: SubscriberTransport,
): typeof fetch | undefined {
  if (transport === "websocket") return undefined;
  const fetch = given ?? globalThis.fetch;
  if (typeof fetch !== "function") {
    throw new TypeError(`fetch: transport "${transport}" needs fetch, and none is global`);
  }
  // Called on its own: a browser's fetch throws when called as another object's method.
  return (input, init) => fetch(input, init);
}
