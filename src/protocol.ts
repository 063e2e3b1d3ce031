/**
 * @module
 * The WebSocket protocol: parses the text frames clients send into typed messages, and renders
 * the frames the server sends. Pure: knows nothing of sockets, the hub or tokens.
 */

import { channelNameProblem } from "./channel.ts";

/** A client's correlation id, echoed in the server's reply to that message. */
export type Ref = string | number;

/** `{"access_token": T}`: authenticate the connection with token `T`. */
export interface AuthMessage {
  readonly type: "auth";
  readonly token: string;
  readonly ref?: Ref;
}

/** `{"channels": {"join": [...], "leave": [...]}}`: join, then leave, the named channels. */
export interface ChannelsMessage {
  readonly type: "channels";
  readonly join: readonly string[];
  readonly leave: readonly string[];
  readonly ref?: Ref;
}

/** Every message a client may send. */
export type ClientMessage = AuthMessage | ChannelsMessage;

/** What parsing one client frame gives: a message, or why it is invalid (with the message's
 * `ref` when it had a usable one, so the server can answer it). */
export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; error: string; ref?: Ref };

/** The longest `ref` string the server echoes back. */
export const MAX_REF_LENGTH = 256;

/** Parses one text frame from a client. Never throws: anything that is not a valid message
 * comes back as `{ ok: false, error }`. Keys other than `access_token`, `channels` and `ref`
 * are ignored, so clients may add their own. */
export function parseClientMessage(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: "expected a JSON object" };
  }
  if (!isPlainObject(value)) return { ok: false, error: "expected a JSON object" };

  const ref = value.ref;
  if (ref !== undefined && !isRef(ref)) {
    // An unusable ref cannot be echoed, so this error has no ref and goes unanswered.
    return {
      ok: false,
      error: `ref: expected a string of at most ${MAX_REF_LENGTH} characters or a finite number`,
    };
  }
  const result = parseBody(value);
  if (ref === undefined) return result;
  return result.ok ? { ok: true, message: { ...result.message, ref } } : { ...result, ref };
}

function parseBody(value: Record<string, unknown>): ParseResult {
  const hasToken = "access_token" in value;
  const hasChannels = "channels" in value;
  if (hasToken && hasChannels) {
    return { ok: false, error: "expected either access_token or channels, not both" };
  }
  if (hasToken) return parseAuth(value.access_token);
  if (hasChannels) return parseChannels(value.channels);
  return { ok: false, error: "expected an access_token or a channels message" };
}

function parseAuth(token: unknown): ParseResult {
  if (typeof token !== "string" || token.length === 0) {
    return { ok: false, error: "access_token: expected a non-empty string" };
  }
  return { ok: true, message: { type: "auth", token } };
}

function parseChannels(channels: unknown): ParseResult {
  if (!isPlainObject(channels)) {
    return { ok: false, error: "channels: expected an object with join and leave lists" };
  }
  const join = parseChannelList(channels.join, "channels.join");
  if (typeof join === "string") return { ok: false, error: join };
  const leave = parseChannelList(channels.leave, "channels.leave");
  if (typeof leave === "string") return { ok: false, error: leave };
  return { ok: true, message: { type: "channels", join, leave } };
}

/** Returns the list, or what is wrong with it. */
function parseChannelList(list: unknown, field: string): string[] | string {
  if (!Array.isArray(list)) return `${field}: expected a list of channel names`;
  for (let i = 0; i < list.length; i++) {
    const name: unknown = list[i];
    if (typeof name !== "string") return `${field}[${i}]: expected a string`;
    const problem = channelNameProblem(name);
    if (problem !== null) return `${field}[${i}]: ${problem}`;
  }
  return list as string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRef(value: unknown): value is Ref {
  return (typeof value === "string" && value.length <= MAX_REF_LENGTH) ||
    (typeof value === "number" && Number.isFinite(value));
}

/** Renders the frame every subscriber of `channel` receives for a broadcast of `payload`:
 * `{"message": <payload>, "channel": "<channel>"}`. Built once per broadcast. */
export function renderBroadcastFrame(channel: string, payload: unknown): string {
  return `{"message": ${JSON.stringify(payload)}, "channel": ${JSON.stringify(channel)}}`;
}

/** Renders the server's answer to a client message that carried `ref`: success when `error`
 * is omitted. */
export function renderReply(ref: Ref, error?: string): string {
  const refText = JSON.stringify(ref);
  return error === undefined
    ? `{"ref": ${refText}, "ok": true}`
    : `{"ref": ${refText}, "error": ${JSON.stringify(error)}}`;
}

/** A WebSocket close code with its reason. */
export interface CloseSpec {
  readonly code: number;
  readonly reason: string;
}

/** Every close the server initiates, with its code and reason. */
export const CLOSE = {
  shuttingDown: { code: 1001, reason: "server shutting down" },
  tooManyMessages: { code: 1008, reason: "too many messages" },
  slowConsumer: { code: 1008, reason: "slow consumer" },
  frameTooLarge: { code: 1009, reason: "frame too large" },
  revoked: { code: 4001, reason: "token revoked" },
  authTimeout: { code: 4003, reason: "authentication timeout" },
} as const satisfies Record<string, CloseSpec>;
