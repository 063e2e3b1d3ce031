/**
 * @module
 * The shapes `BoreasSubscriber` takes and yields: its options, states, messages, stream
 * positions, recovery events and channel members.
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
  /** The message's place in its channel's stream (1, 2, 3... within an epoch), when the
   * server keeps history (`--history-size`); absent otherwise. */
  readonly offset?: number;
  /** Who published it: for a client's publication, the user its publisher's token names;
   * absent for the API's broadcasts and for tokens without a user. */
  readonly user?: string;
}

/** A place in a channel's stream, with history on: the last offset received, and the epoch it
 * belongs to (an opaque string that changes whenever the channel's offsets start again).
 *
 * ```ts
 * import type { StreamPosition } from "./mod.ts";
 *
 * const saved: Record<string, StreamPosition> = { news: { offset: 41, epoch: "1a24f4b99f1c04e2" } };
 * ```
 */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** A reconnect that could not resume `channel` where the subscriber left it: messages
 * published while it was away may be missing, so reload what you show from your source of
 * truth (or, for the same `epoch` as `since`, read what is still kept with
 * `BoreasApi.history()`). Live messages go on after `offset`.
 *
 * ```ts
 * import type { RecoveryEvent } from "./mod.ts";
 *
 * const explain = (event: RecoveryEvent) =>
 *   event.epoch === event.since.epoch
 *     ? `${event.channel}: history trimmed after ${event.since.offset}`
 *     : `${event.channel}: stream restarted (server restart or history expired)`;
 * ```
 */
export interface RecoveryEvent {
  readonly type: "recovery";
  /** The channel that was not resumed. */
  readonly channel: string;
  readonly recovered: false;
  /** The channel's last offset now; live messages follow it. Undefined when the server no
   * longer keeps history, or over SSE when its recovery event does not say. */
  readonly offset: number | undefined;
  /** The channel's epoch now; undefined when the server no longer keeps history, or over
   * SSE when its recovery event does not say. */
  readonly epoch: string | undefined;
  /** The position the subscriber asked to resume after. */
  readonly since: StreamPosition;
}

/** A broadcast received, as `BoreasSubscriber.events()` yields it.
 *
 * ```ts
 * import type { BroadcastEvent } from "./mod.ts";
 *
 * const text = (event: BroadcastEvent<string>) => `${event.offset ?? "-"} ${event.message}`;
 * ```
 */
export interface BroadcastEvent<T = unknown> extends BroadcastMessage<T> {
  readonly type: "message";
}

/** A user who came to (`joined`) or went from (`left`) a channel with join and leave events
 * (`--join-leave`), as `BoreasSubscriber.events()` yields it. A user is a token's `user` (a
 * JWT's `sub`), however many connections they have; this subscriber is not told of its own
 * arrival.
 *
 * ```ts
 * import type { MemberEvent } from "./mod.ts";
 *
 * const say = ({ type, channel, user }: MemberEvent) =>
 *   `${user} ${type === "joined" ? "came to" : "left"} ${channel}`;
 * ```
 */
export interface MemberEvent {
  readonly type: "joined" | "left";
  readonly channel: string;
  readonly user: string;
}

/** Who is in a channel with join and leave events, as `BoreasSubscriber.members()` returns it.
 *
 * ```ts
 * import type { ChannelMembers } from "./mod.ts";
 *
 * const count = ({ users, isTruncated }: ChannelMembers) =>
 *   isTruncated ? `${users.length}+` : `${users.length}`;
 * ```
 */
export interface ChannelMembers {
  readonly channel: string;
  /** The users in the channel, this subscriber's own included when its token names one, in no
   * particular order. */
  readonly users: readonly string[];
  /** Whether the server listed only some of them (past `--max-members-listed`): `users` is
   * then who it listed, plus those who joined since, minus those who left. */
  readonly isTruncated: boolean;
}

/** The whole list of a channel's members, as `BoreasSubscriber.events()` yields it whenever
 * the server gives one: as the subscriber joins the channel, again on every reconnect (the
 * `joined` and `left` sent while it was away are lost, so show this list instead of what you
 * had), and over SSE at every `join()` and `leave()`. Later `joined` and `left` events apply to
 * it; they may repeat what it says (a `joined` for someone listed).
 *
 * ```ts
 * import type { MembersEvent } from "./mod.ts";
 *
 * const roster = new Map<string, Set<string>>();
 * const show = (event: MembersEvent) => roster.set(event.channel, new Set(event.users));
 * ```
 */
export interface MembersEvent extends ChannelMembers {
  readonly type: "members";
}

/** What `BoreasSubscriber.events()` yields: broadcasts, failed resumes, and, in channels with
 * join and leave events, their members' lists and comings and goings, in the order the server
 * sent them (a channel's recovery event and member list come before its messages that follow).
 *
 * ```ts
 * import type { SubscriberEvent } from "./mod.ts";
 *
 * const describe = (event: SubscriberEvent) =>
 *   event.type === "message" ? event.channel : `${event.type} ${event.channel}`;
 * ```
 */
export type SubscriberEvent<T = unknown> =
  | BroadcastEvent<T>
  | RecoveryEvent
  | MemberEvent
  | MembersEvent;

/** A `WebSocket` class, e.g. `globalThis.WebSocket` or a test double.
 *
 * ```ts
 * import type { WebSocketConstructor } from "./mod.ts";
 *
 * const Native: WebSocketConstructor = WebSocket;
 * ```
 */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** How a subscriber reaches the server:
 *
 * - `websocket`: a WebSocket to the URL given (the default);
 * - `sse`: Server-Sent Events from `GET /events` beside it, for networks and proxies that
 *   break WebSockets; receive-only, so a `join()` or `leave()` opens a new stream with the
 *   new channels (see the client's documentation for what differs);
 * - `auto`: a WebSocket, until WebSockets fail to open twice in a row (or none can be made);
 *   then SSE, for the rest of the subscriber's life.
 *
 * ```ts
 * import type { SubscriberTransport } from "./mod.ts";
 *
 * const transport: SubscriberTransport = "auto";
 * ```
 */
export type SubscriberTransport = "websocket" | "sse" | "auto";

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
   * as `ws:` and `wss:`. Over SSE, `events` is added to its path, as an `http:` or `https:`
   * URL: `http://localhost:8002/events`. */
  readonly url: string | URL;
  /** The token to authenticate with, from `BoreasApi.createToken()` or your backend. */
  readonly token: string;
  /** Channels to join as part of connecting. Default: none. */
  readonly channels?: readonly string[];
  /** Back-off between connection attempts, or `false` to end the subscription with a
   * `disconnected` error when the connection drops. Default: `DEFAULT_RECONNECT`. */
  readonly reconnect?: ReconnectOptions | false;
  /** How long to wait for a WebSocket to open, and then for the server's reply to each
   * message (over SSE, for the answer to the stream's request), before taking the connection
   * for dead and reconnecting, in milliseconds. Default 10 000. */
  readonly replyTimeoutMs?: number;
  /** Over SSE, how long a stream may go without receiving anything (the server sends a
   * keepalive comment every 15 s) before it is taken for dead and the subscriber reconnects,
   * in milliseconds; `Infinity` never does. Default 40 000. */
  readonly sseIdleTimeoutMs?: number;
  /** How to reach the server: `websocket`, `sse` or `auto`; see `SubscriberTransport`.
   * Default: `websocket`. */
  readonly transport?: SubscriberTransport;
  /** The WebSocket class to use. Default: `globalThis.WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /** The `fetch` SSE streams are requested with. Default: `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Called after every state change, with the new state (not for the initial
   * `connecting`). An exception it throws is reported asynchronously and changes nothing. */
  readonly onStateChange?: (state: SubscriberState) => void;
  /** Called, with history on, for each channel a join could not resume where the subscriber
   * left it (after a reconnect, or from `since`), before any message that follows it. An
   * exception it throws is reported asynchronously and changes nothing. */
  readonly onRecovery?: (event: RecoveryEvent) => void;
  /** Positions to resume after, by channel, e.g. `subscriber.positions` saved by an earlier
   * subscriber; used for the channels it joins. Default: none. */
  readonly since?: Readonly<Record<string, StreamPosition>>;
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
