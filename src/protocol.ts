/**
 * @module
 * The WebSocket protocol: parses the text frames clients send into typed messages, and renders
 * the frames the server sends. Pure: knows nothing of sockets, the hub or tokens.
 */

import { channelNameProblem, isAdapterChannel } from "./channel.ts";

/** A client's correlation id, echoed in the server's reply to that message. */
export type Ref = string | number;

/** `{"access_token": T}`: authenticate the connection with token `T`. */
export interface AuthMessage {
  readonly type: "auth";
  readonly token: string;
  readonly ref?: Ref;
}

/** A position a client had in a channel's stream, as the server last told it. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** `{"channels": {"join": [...], "leave": [...], "since": {...}}}`: join, then leave, the
 * named channels; `since` names, for some joined channels, the position to resume after. */
export interface ChannelsMessage {
  readonly type: "channels";
  readonly join: readonly string[];
  readonly leave: readonly string[];
  /** Absent when the message had no `since`. */
  readonly since?: ReadonlyMap<string, StreamPosition>;
  readonly ref?: Ref;
}

/** `{"publish": {"channel": C, "payload": P}}`: publish `P` (any JSON value but null) to
 * channel `C`, which the connection has joined and its token may publish to. */
export interface PublishMessage {
  readonly type: "publish";
  readonly channel: string;
  /** The payload as the client sent it, parsed. */
  readonly payload: unknown;
  readonly ref?: Ref;
}

/** Every message a client may send. */
export type ClientMessage = AuthMessage | ChannelsMessage | PublishMessage;

/** What parsing one client frame gives: a message, or why it is invalid (with the message's
 * `ref` when it had a usable one, so the server can answer it). */
export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; error: string; ref?: Ref };

/** The longest `ref` string the server echoes back. */
export const MAX_REF_LENGTH = 256;

/** Parses one text frame from a client. Never throws: anything that is not a valid message
 * comes back as `{ ok: false, error }`. Keys other than `access_token`, `channels`, `publish`
 * and `ref` are ignored, so clients may add their own. */
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

/** Each message type's key, and the parser of its value. */
const PARSERS: Readonly<Record<string, (value: unknown) => ParseResult>> = {
  "access_token": parseAuth,
  channels: parseChannels,
  publish: parsePublish,
};

function parseBody(value: Record<string, unknown>): ParseResult {
  const keys = Object.keys(PARSERS).filter((key) => key in value);
  if (keys.length > 1) {
    return {
      ok: false,
      error: `expected one of access_token, channels or publish, not ${keys.join(" and ")}`,
    };
  }
  if (keys.length === 0) {
    return { ok: false, error: "expected an access_token, channels or publish message" };
  }
  return PARSERS[keys[0]!]!(value[keys[0]!]);
}

function parsePublish(publish: unknown): ParseResult {
  if (!isPlainObject(publish)) {
    return { ok: false, error: "publish: expected an object with channel and payload" };
  }
  const { channel, payload } = publish;
  if (typeof channel !== "string") {
    return { ok: false, error: "publish.channel: expected a string" };
  }
  const problem = channelNameProblem(channel);
  if (problem !== null) return { ok: false, error: `publish.channel: ${problem}` };
  if (payload === undefined || payload === null) {
    return { ok: false, error: "publish.payload: expected any JSON value but null" };
  }
  return { ok: true, message: { type: "publish", channel, payload } };
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
  if (channels.since === undefined) return { ok: true, message: { type: "channels", join, leave } };
  const since = parseSince(channels.since, join);
  if (typeof since === "string") return { ok: false, error: since };
  return { ok: true, message: { type: "channels", join, leave, since } };
}

/** The longest epoch a client may send back. */
const MAX_EPOCH_LENGTH = 64;

/** Returns the positions by channel, or what is wrong with them. */
function parseSince(
  since: unknown,
  join: readonly string[],
): ReadonlyMap<string, StreamPosition> | string {
  if (!isPlainObject(since)) return "channels.since: expected an object of positions by channel";
  const positions = new Map<string, StreamPosition>();
  for (const [channel, position] of Object.entries(since)) {
    const field = `channels.since.${channel}`;
    if (!join.includes(channel)) return `${field}: expected a channel of channels.join`;
    if (!isPlainObject(position)) return `${field}: expected {"offset": N, "epoch": "E"}`;
    const { offset, epoch } = position;
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      return `${field}.offset: expected a whole number of at least 0`;
    }
    if (typeof epoch !== "string" || epoch === "" || epoch.length > MAX_EPOCH_LENGTH) {
      return `${field}.epoch: expected a string of 1-${MAX_EPOCH_LENGTH} characters`;
    }
    positions.set(channel, { offset, epoch });
  }
  return positions;
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
  return renderFrame(channel, JSON.stringify(payload));
}

/** The broadcast frame of `payload`, given as JSON text; a client's publication names its
 * publisher's `user` (when its token names one), and with history on the frame carries the
 * message's `offset` too:
 * `{"message": <payload>, "channel": "<channel>", "user": "<user>", "offset": K}`. */
export function renderFrame(
  channel: string,
  payload: string,
  offset?: number,
  user?: string | null,
): string {
  // An adapter's broadcast is already its wire's frame.
  if (isAdapterChannel(channel)) return payload;
  let frame = `{"message": ${payload}, "channel": ${JSON.stringify(channel)}`;
  if (user !== undefined && user !== null) frame += `, "user": ${JSON.stringify(user)}`;
  return offset === undefined ? `${frame}}` : `${frame}, "offset": ${offset}}`;
}

/** What a join reply says of one joined channel with history on: its position, and whether
 * the position the client named was resumed (absent when it named none). */
export interface ChannelState extends StreamPosition {
  readonly recovered?: boolean;
}

/** A channel's members as a join lists them: at most `--max-members-listed` users, and
 * whether there were more. */
export interface MemberList {
  readonly users: readonly string[];
  readonly isTruncated: boolean;
}

/** Options of `renderJoinReply()`. */
export interface JoinReplyOptions {
  /** The members of each joined channel with join and leave events. Default: none. */
  readonly members?: ReadonlyMap<string, MemberList>;
  /** Whether the join named one channel (once each); only then are its members listed at the
   * top level, so that a client can always tell whose list it is. Default: false. */
  readonly isOneChannel?: boolean;
}

/** Renders the success reply to a join that reports positions (history on) or members
 * (channels with join and leave events), or both:
 * `{"ref": R, "ok": true, "channels": {"ch1": {"recovered": true, "offset": 57, "epoch": "E"}}}`
 * with history on. The members of a join of one channel are listed at the top level,
 * `"members": ["alice", "bob"]` (with `"members_truncated": true` when cut); those of a join of
 * several, in each one's entry of `channels`. `channels` is null with history off. */
export function renderJoinReply(
  ref: Ref,
  channels: ReadonlyMap<string, ChannelState> | null,
  { members = new Map(), isOneChannel = false }: JoinReplyOptions = {},
): string {
  const entries = new Map<string, string[]>();
  for (const [channel, { recovered, offset, epoch }] of channels ?? []) {
    const resumed = recovered === undefined ? "" : `"recovered": ${recovered}, `;
    entries.set(channel, [`${resumed}"offset": ${offset}, "epoch": ${JSON.stringify(epoch)}`]);
  }
  const only = isOneChannel && members.size === 1 ? [...members.values()][0]! : undefined;
  if (only === undefined) {
    for (const [channel, list] of members) {
      const fields = entries.get(channel) ?? [];
      entries.set(channel, [...fields, renderMemberFields(list)]);
    }
  }
  let reply = `{"ref": ${JSON.stringify(ref)}, "ok": true`;
  if (channels !== null || entries.size > 0) {
    const states = [...entries].map(([channel, fields]) =>
      `${JSON.stringify(channel)}: {${fields.join(", ")}}`
    );
    reply += `, "channels": {${states.join(", ")}}`;
  }
  return only === undefined ? `${reply}}` : `${reply}, ${renderMemberFields(only)}}`;
}

/** `"members": [...]`, and `"members_truncated": true` when the list was cut. */
function renderMemberFields({ users, isTruncated }: MemberList): string {
  const list = `"members": [${users.map((user) => JSON.stringify(user)).join(", ")}]`;
  return isTruncated ? `${list}, "members_truncated": true` : list;
}

/** Renders the data of an SSE stream's `event: members`, one per channel with join and leave
 * events: `{"channel": "room:1", "members": ["alice", "bob"]}`. */
export function renderMembers(channel: string, list: MemberList): string {
  return `{"channel": ${JSON.stringify(channel)}, ${renderMemberFields(list)}}`;
}

/** Renders the frame a channel's subscribers receive when `user` comes or goes:
 * `{"channel": "room:1", "joined": {"user": "alice"}}` or `... "left": {"user": "alice"}}`. */
export function renderMemberEvent(
  channel: string,
  change: "joined" | "left",
  user: string,
): string {
  return `{"channel": ${JSON.stringify(channel)}, "${change}": {"user": ${JSON.stringify(user)}}}`;
}

/** Renders the success reply to a publication with history on:
 * `{"ref": R, "ok": true, "offset": K}`. */
export function renderPublishReply(ref: Ref, offset: number): string {
  return `{"ref": ${JSON.stringify(ref)}, "ok": true, "offset": ${offset}}`;
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
  resumeRequired: { code: 1012, reason: "missed messages: reconnect and resume" },
  revoked: { code: 4001, reason: "token revoked" },
  authTimeout: { code: 4003, reason: "authentication timeout" },
  expired: { code: 4004, reason: "token expired" },
  disconnected: { code: 4005, reason: "disconnected" },
} as const satisfies Record<string, CloseSpec>;
