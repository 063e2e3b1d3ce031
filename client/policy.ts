/**
 * @module
 * What the subscriber decides from what it is given or what the server did: which options it
 * accepts, and which closes end a subscription rather than lead to a reconnect. Pure.
 */

import { type ReconnectOptions, resolveReconnect } from "./backoff.ts";
import type { CloseInfo } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import type { BoreasSubscriberOptions, WebSocketConstructor } from "./subscriber_types.ts";

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

/** A subscriber's options, checked, with the defaults filled in. */
export interface SubscriberSettings {
  /** A `ws:` or `wss:` URL. */
  readonly url: string;
  readonly token: string;
  /** Undefined when reconnecting is off. */
  readonly reconnect: Required<ReconnectOptions> | undefined;
  readonly replyTimeoutMs: number;
  readonly WebSocket: WebSocketConstructor;
}

/** Checks `options` and fills in the defaults: throws `TypeError` for a URL that is not
 * `ws:`/`wss:` (or `http:`/`https:`), an empty token or no WebSocket class, and `RangeError`
 * for bad `reconnect` or `replyTimeoutMs` values. */
export function resolveSubscriberOptions(options: BoreasSubscriberOptions): SubscriberSettings {
  const { token, reconnect, replyTimeoutMs = 10_000 } = options;
  if (typeof token !== "string" || token === "") {
    throw new TypeError("token: expected a non-empty string");
  }
  if (!(replyTimeoutMs > 0)) {
    throw new RangeError(`replyTimeoutMs: expected a number > 0, got ${replyTimeoutMs}`);
  }
  const WebSocket = options.WebSocket ?? globalThis.WebSocket;
  if (typeof WebSocket !== "function") {
    throw new TypeError("WebSocket: no WebSocket class given and none is global");
  }
  return {
    url: webSocketUrl(options.url),
    token,
    reconnect: reconnect === false ? undefined : resolveReconnect(reconnect),
    replyTimeoutMs,
    WebSocket,
  };
}
