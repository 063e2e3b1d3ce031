/**
 * @module
 * Pusher's signatures, all HMAC-SHA256 in lowercase hex with an app's secret: channel
 * authorizations (private and presence), user sign-in, REST requests and webhooks. Pure: the
 * clock is injected, and nothing here knows of sockets or HTTP. Every comparison of a
 * signature takes constant time.
 */

import { createHash, createHmac } from "node:crypto";

/** What signs and checks an app's signatures. */
export interface SigningApp {
  readonly key: string;
  readonly secret: string;
}

/** How far a REST request's `auth_timestamp` may be from the server's clock, in seconds. */
export const MAX_REQUEST_SKEW_SECONDS = 600;

/** HMAC-SHA256 of `text` with `secret`, in lowercase hex. */
export function signHex(secret: string, text: string): string {
  return createHmac("sha256", secret).update(text, "utf8").digest("hex");
}

/** The `auth` a client presents to subscribe: `KEY:SIGNATURE` over `socket_id:channel`, or
 * over `socket_id:channel:channel_data` for a presence channel. */
export function channelAuth(
  app: SigningApp,
  socketId: string,
  options: { channel: string; channelData?: string | undefined },
): string {
  const { channel, channelData } = options;
  const signed = channelData === undefined
    ? `${socketId}:${channel}`
    : `${socketId}:${channel}:${channelData}`;
  return `${app.key}:${signHex(app.secret, signed)}`;
}

/** Whether `auth` authorizes `socketId` to subscribe to `channel` (with `channelData` for a
 * presence channel). */
export function isValidChannelAuth(
  app: SigningApp,
  socketId: string,
  options: { channel: string; auth: string; channelData?: string | undefined },
): boolean {
  return equalText(options.auth, channelAuth(app, socketId, options));
}

/** The `auth` a client presents with `pusher:signin`: `KEY:SIGNATURE` over
 * `socket_id::user::user_data`. */
export function userAuth(app: SigningApp, socketId: string, userData: string): string {
  return `${app.key}:${signHex(app.secret, `${socketId}::user::${userData}`)}`;
}

/** Whether `auth` signs `userData` in for `socketId`. */
export function isValidUserAuth(
  app: SigningApp,
  socketId: string,
  options: { userData: string; auth: string },
): boolean {
  return equalText(options.auth, userAuth(app, socketId, options.userData));
}

/** The `X-Pusher-Signature` of a webhook `body`. */
export function webhookSignature(app: SigningApp, body: string): string {
  return signHex(app.secret, body);
}

/** A REST request as its signature covers it. */
export interface SignedRequest {
  /** `GET`, `POST`, ... in any case. */
  readonly method: string;
  /** The URL's path, as sent (`/apps/1/events`). */
  readonly path: string;
  /** The URL's query parameters, decoded. */
  readonly query: URLSearchParams;
  /** The body as sent; empty when there is none. */
  readonly body: string;
}

/** How a REST request's signature was judged: good, or refused with why (a 401). */
export type RequestCheck = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** The query keys the signature adds; the rest are the request's own parameters. */
const AUTH_KEYS = ["auth_key", "auth_timestamp", "auth_version", "auth_signature", "body_md5"];

/** Checks a REST request as Pusher signs it: `auth_key` is the app's key, `auth_timestamp`
 * within `MAX_REQUEST_SKEW_SECONDS` of `nowMs`, `auth_version` 1.0, `body_md5` the MD5 of a
 * non-empty body, and `auth_signature` the HMAC of `METHOD\nPATH\nQUERY`, QUERY being every
 * parameter but `auth_signature` as `key=value`, sorted by key and joined with `&`. */
export function checkRequestSignature(
  app: SigningApp,
  request: SignedRequest,
  { nowMs = Date.now() }: { nowMs?: number } = {},
): RequestCheck {
  const { query } = request;
  const refuse = (error: string): RequestCheck => ({ ok: false, error });
  // Every parameter once: the signature covers each key's one value.
  const params = new Map<string, string>();
  for (const [key, value] of query) {
    if (params.has(key)) return refuse(`${key}: expected once in the query`);
    params.set(key, value);
  }
  for (const key of AUTH_KEYS.slice(0, 4)) {
    if (!params.has(key)) return refuse(`${key}: expected in the query`);
  }
  if (!equalText(params.get("auth_key")!, app.key)) return refuse("auth_key: unknown key");
  if (params.get("auth_version") !== "1.0") return refuse("auth_version: expected 1.0");
  const timestamp = params.get("auth_timestamp")!;
  const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
  if (!(Math.abs(nowMs / 1000 - seconds) <= MAX_REQUEST_SKEW_SECONDS)) {
    return refuse(
      `auth_timestamp: expected within ${MAX_REQUEST_SKEW_SECONDS} s of the server's clock`,
    );
  }
  if (request.body !== "" || params.has("body_md5")) {
    const md5 = createHash("md5").update(request.body, "utf8").digest("hex");
    if (!equalText(params.get("body_md5") ?? "", md5)) {
      return refuse("body_md5: expected the MD5 of the body");
    }
  }
  const signed = [...params]
    .filter(([key]) => key !== "auth_signature")
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([key, value]) => `${key}=${value}`)
    .join("&");
  const expected = signHex(
    app.secret,
    `${request.method.toUpperCase()}\n${request.path}\n${signed}`,
  );
  if (!equalText(params.get("auth_signature")!, expected)) {
    return refuse("auth_signature: does not match the request");
  }
  return { ok: true };
}

/** Whether two strings are equal, in time that depends on their lengths only. */
export function equalText(given: string, expected: string): boolean {
  // Compare against itself on a length mismatch, so the time does not say where they differ.
  const other = given.length === expected.length ? given : expected;
  let difference = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    difference |= other.charCodeAt(i) ^ expected.charCodeAt(i);
  }
  return difference === 0;
}
