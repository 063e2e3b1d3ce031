/**
 * @module
 * The Pusher Channels wire format (protocol 7): parses the events a Pusher client sends and
 * renders the ones the server sends. An event's `data` is a string on the wire both ways: a
 * client event's data is passed on as the exact text the client sent, never parsed and encoded
 * again. Pure: knows nothing of sockets, apps or the hub.
 */

import { memberText } from "./json_member.ts";

/** Protocol versions a client may ask for (`?protocol=`). */
export const PUSHER_PROTOCOLS: ReadonlySet<string> = new Set(["5", "6", "7"]);

/** The longest channel name Pusher allows, in characters. */
export const MAX_PUSHER_CHANNEL_LENGTH = 164;

/** The longest event name Pusher allows, in characters. */
export const MAX_PUSHER_EVENT_LENGTH = 200;

/** Pusher's codes, in `pusher:error` and as close codes. */
export const PUSHER_CODES = {
  /** No app has the key of the path. */
  unknownApp: 4001,
  /** The `protocol` parameter is missing or not 5, 6 or 7. */
  unsupportedProtocol: 4007,
  /** The app is over its `maxConnections`. */
  overQuota: 4100,
  /** The server is going away: reconnect. */
  reconnect: 4200,
  /** No `pusher:pong` came after the server's ping. */
  pongTimeout: 4201,
  /** Unauthorized: a bad sign-in, or the user's connections terminated by the backend. */
  unauthorized: 4009,
  /** A client event refused: over the rate limit, not enabled, not subscribed, too large. */
  clientEventRejected: 4301,
} as const;

/** Events a client may send. `client` is a client event, with its data's exact JSON text. */
export type PusherClientMessage =
  | { readonly type: "ping" }
  | { readonly type: "pong" }
  | {
    readonly type: "subscribe";
    readonly channel: string;
    readonly auth?: string;
    /** The presence member, as the JSON text the authorizer signed. */
    readonly channelData?: string;
  }
  | { readonly type: "unsubscribe"; readonly channel: string }
  | { readonly type: "signin"; readonly auth: string; readonly userData: string }
  | {
    readonly type: "client";
    readonly event: string;
    readonly channel: string;
    /** The `data` member exactly as sent: JSON text (`"a string"`, `{"an":"object"}`). */
    readonly data: string;
  };

/** What parsing one frame gives: a message, or why it is not one (and, when it is a
 * subscription to a bad channel name, that channel, to be answered `pusher:subscription_error`). */
export type PusherParseResult =
  | { readonly ok: true; readonly message: PusherClientMessage }
  | { readonly ok: false; readonly error: string; readonly channel?: string };

const CHANNEL_NAME = /^[A-Za-z0-9_\-=@,.;]+$/;
const USER_CHANNEL = /^#server-to-user-[A-Za-z0-9_\-=@,.;]+$/;

/** What is wrong with `channel` as a Pusher channel name, or null: 1-164 of
 * `A-Z a-z 0-9 _ - = @ , . ;`, or `#server-to-user-` and such a name. */
export function pusherChannelProblem(channel: string): string | null {
  if (channel.length > MAX_PUSHER_CHANNEL_LENGTH) {
    return `channel: expected at most ${MAX_PUSHER_CHANNEL_LENGTH} characters`;
  }
  if (!CHANNEL_NAME.test(channel) && !USER_CHANNEL.test(channel)) {
    return "channel: expected characters of A-Z a-z 0-9 _ - = @ , . ;";
  }
  return null;
}

/** Whether subscribing to `channel` needs an authorization (private, encrypted, presence). */
export function isAuthorizedChannel(channel: string): boolean {
  return channel.startsWith("private-") || channel.startsWith("presence-");
}

/** How long a `cache-` channel keeps its last event, in milliseconds: 30 minutes, as Pusher. */
export const CACHE_TTL_MS = 30 * 60_000;

/** Whether `channel` is a cache channel: `cache-`, `private-cache-`,
 * `private-encrypted-cache-` or `presence-cache-`, whose last event a subscriber gets. */
export function isCacheChannel(channel: string): boolean {
  return /^(?:private-(?:encrypted-)?|presence-)?cache-/.test(channel);
}

/** Whether `channel` is a presence channel. */
export function isPresenceChannel(channel: string): boolean {
  return channel.startsWith("presence-");
}

/** Parses one text frame from a Pusher client. Never throws. */
export function parsePusherMessage(text: string): PusherParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "expected a JSON object" };
  }
  if (!isObject(value)) return { ok: false, error: "expected a JSON object" };
  const { event } = value;
  if (typeof event !== "string") return { ok: false, error: "event: expected a string" };
  switch (event) {
    case "pusher:ping":
      return { ok: true, message: { type: "ping" } };
    case "pusher:pong":
      return { ok: true, message: { type: "pong" } };
    case "pusher:subscribe":
      return parseSubscribe(dataObject(value.data));
    case "pusher:unsubscribe":
      return parseUnsubscribe(dataObject(value.data));
    case "pusher:signin":
      return parseSignin(dataObject(value.data));
  }
  if (event.startsWith("client-")) return parseClientEvent(text, event, value.channel);
  return { ok: false, error: `event: ${JSON.stringify(event.slice(0, 64))} is not supported` };
}

function parseSubscribe(data: Record<string, unknown> | null): PusherParseResult {
  if (data === null) return { ok: false, error: "pusher:subscribe: expected data with a channel" };
  const { channel, auth, channel_data: channelData } = data;
  if (typeof channel !== "string") {
    return { ok: false, error: "pusher:subscribe: data.channel: expected a string" };
  }
  const problem = pusherChannelProblem(channel);
  if (problem !== null) return { ok: false, error: `pusher:subscribe: ${problem}`, channel };
  if (auth !== undefined && typeof auth !== "string") {
    return { ok: false, error: "pusher:subscribe: data.auth: expected a string" };
  }
  if (channelData !== undefined && typeof channelData !== "string") {
    return { ok: false, error: "pusher:subscribe: data.channel_data: expected a string" };
  }
  return {
    ok: true,
    message: {
      type: "subscribe",
      channel,
      ...(auth === undefined ? {} : { auth }),
      ...(channelData === undefined ? {} : { channelData }),
    },
  };
}

function parseUnsubscribe(data: Record<string, unknown> | null): PusherParseResult {
  if (data === null || typeof data.channel !== "string") {
    return { ok: false, error: "pusher:unsubscribe: data.channel: expected a string" };
  }
  return { ok: true, message: { type: "unsubscribe", channel: data.channel } };
}

function parseSignin(data: Record<string, unknown> | null): PusherParseResult {
  if (data === null || typeof data.auth !== "string" || typeof data.user_data !== "string") {
    return { ok: false, error: "pusher:signin: expected data with auth and user_data strings" };
  }
  return { ok: true, message: { type: "signin", auth: data.auth, userData: data.user_data } };
}

function parseClientEvent(text: string, event: string, channel: unknown): PusherParseResult {
  if (event.length > MAX_PUSHER_EVENT_LENGTH) {
    return { ok: false, error: `event: expected at most ${MAX_PUSHER_EVENT_LENGTH} characters` };
  }
  if (typeof channel !== "string") {
    return { ok: false, error: `${event}: channel: expected a string` };
  }
  const problem = pusherChannelProblem(channel);
  if (problem !== null) return { ok: false, error: `${event}: ${problem}` };
  const data = memberText(text, "data");
  if (data === undefined) return { ok: false, error: `${event}: expected data` };
  return { ok: true, message: { type: "client", event, channel, data } };
}

/** `data` as an object: clients send one, or (some) the same as a JSON string. */
function dataObject(data: unknown): Record<string, unknown> | null {
  if (isObject(data)) return data;
  if (typeof data !== "string") return null;
  try {
    const parsed: unknown = JSON.parse(data);
    return isObject(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `pusher:connection_established`, its data a JSON string:
 * `{"socket_id":"N.N","activity_timeout":S}`. */
export function renderConnectionEstablished(socketId: string, activityTimeout: number): string {
  const data = JSON.stringify({ "socket_id": socketId, "activity_timeout": activityTimeout });
  return `{"event":"pusher:connection_established","data":${JSON.stringify(data)}}`;
}

/** The server's `pusher:ping`. */
export const PUSHER_PING = '{"event":"pusher:ping","data":"{}"}';

/** The answer to a client's `pusher:ping`. */
export const PUSHER_PONG = '{"event":"pusher:pong","data":"{}"}';

/** `pusher:error` with `{code, message}`; `code` null for an error without a Pusher code. */
export function renderPusherError(code: number | null, message: string): string {
  return `{"event":"pusher:error","data":${JSON.stringify({ code, message })}}`;
}

/** The members of a presence channel, as `subscription_succeeded` gives them. */
export interface PresenceRoster {
  /** Each user's id (a number or a string, as its `channel_data` gave it) and info. */
  readonly members: ReadonlyArray<
    { readonly userId: string | number; readonly userInfo?: unknown }
  >;
  /** How many members the channel has, when more than are listed. Default: those listed. */
  readonly count?: number;
}

/** `pusher_internal:subscription_succeeded`; on a presence channel its data is the JSON string
 * of `{"presence":{"ids","hash","count"}}`. */
export function renderSubscriptionSucceeded(channel: string, roster?: PresenceRoster): string {
  let data = "{}";
  if (roster !== undefined) {
    const hash: Record<string, unknown> = {};
    for (const { userId, userInfo } of roster.members) hash[String(userId)] = userInfo ?? null;
    const ids = roster.members.map(({ userId }) => userId);
    const count = Math.max(roster.count ?? 0, ids.length);
    data = JSON.stringify({ presence: { ids, hash, count } });
  }
  return `{"event":"pusher_internal:subscription_succeeded","channel":${
    JSON.stringify(channel)
  },"data":${JSON.stringify(data)}}`;
}

/** `pusher:subscription_error`: by default for a refused authorization,
 * `{"type":"AuthError","error":...,"status":401}`. */
export function renderSubscriptionError(
  channel: string,
  error: string,
  { type = "AuthError", status = 401 }: { type?: string; status?: number } = {},
): string {
  const data = { type, error, status };
  return `{"event":"pusher:subscription_error","channel":${JSON.stringify(channel)},"data":${
    JSON.stringify(data)
  }}`;
}

/** `pusher_internal:member_added`, its data the JSON string of `{"user_id","user_info"}`. */
export function renderMemberAdded(
  channel: string,
  userId: string | number,
  userInfo?: unknown,
): string {
  const data = JSON.stringify({ "user_id": userId, "user_info": userInfo ?? null });
  return `{"event":"pusher_internal:member_added","channel":${JSON.stringify(channel)},"data":${
    JSON.stringify(data)
  }}`;
}

/** `pusher_internal:member_removed`, its data the JSON string of `{"user_id"}`. */
export function renderMemberRemoved(channel: string, userId: string | number): string {
  const data = JSON.stringify({ "user_id": userId });
  return `{"event":"pusher_internal:member_removed","channel":${JSON.stringify(channel)},"data":${
    JSON.stringify(data)
  }}`;
}

/** `pusher:cache_miss`: a `cache-` channel has no last event to give. */
export function renderCacheMiss(channel: string): string {
  return `{"event":"pusher:cache_miss","channel":${JSON.stringify(channel)}}`;
}

/** `pusher:signin_success`, its data the JSON string of `{"user_data": <the signed string>}`. */
export function renderSigninSuccess(userData: string): string {
  const data = JSON.stringify({ "user_data": userData });
  return `{"event":"pusher:signin_success","data":${JSON.stringify(data)}}`;
}

/** An event on `channel`, its `data` the JSON text `dataText` as is (a REST trigger's string,
 * quoted; a client event's data, as the client wrote it); a presence client event names its
 * sender's `userId`, a string as Pusher gives it. */
export function renderPusherEvent(
  event: string,
  channel: string,
  dataText: string,
  userId?: string,
): string {
  const sender = userId === undefined ? "" : `,"user_id":${JSON.stringify(userId)}`;
  return `{"event":${JSON.stringify(event)},"channel":${
    JSON.stringify(channel)
  },"data":${dataText}${sender}}`;
}

/** A fresh socket id, `N.N` as Pusher's clients expect. */
export function newSocketId(): string {
  const [a, b] = crypto.getRandomValues(new Uint32Array(2));
  return `${a}.${b}`;
}
