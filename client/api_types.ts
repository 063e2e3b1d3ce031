/**
 * @module
 * The shapes `BoreasApi` takes and returns: its options, and the bodies of `/broadcast/`,
 * `/history/`, `/stats` and `/health` as the server sends them.
 */

/** Options of `new BoreasApi()`.
 *
 * ```ts
 * import type { BoreasApiOptions } from "./mod.ts";
 *
 * const options: BoreasApiOptions = { url: "https://example.com/boreas", apiKey: "secret" };
 * ```
 */
export interface BoreasApiOptions {
  /** Where the HTTP API is, e.g. `http://localhost:8001`. A path is kept as a prefix
   * (`https://example.com/boreas` → `https://example.com/boreas/token/`). */
  readonly url: string | URL;
  /** Sent as `Authorization: Bearer KEY` on every request, for a server started with
   * `--api-key`. Default: none. */
  readonly apiKey?: string | undefined;
  /** The `fetch` to use, e.g. one with a proxy or a test double. Default: the global one. */
  readonly fetch?: typeof fetch;
}

/** What every call takes: an optional signal that aborts the request.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * await api.stats({ signal: AbortSignal.timeout(2_000) });
 * ```
 */
export interface RequestOptions {
  /** Aborts the request; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Options of `BoreasApi.createToken()`: what the token grants (every field optional; none
 * at all mints the original's open token, which joins every channel and publishes nowhere).
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const token = await api.createToken({
 *   user: "alice",
 *   channels: ["room:*"],
 *   publish: ["room:*"],
 *   ttl: 3600,
 * });
 * ```
 */
export interface CreateTokenOptions extends RequestOptions {
  /** Channel patterns it may join (exact names, or ending in `*`); default: every channel. */
  readonly channels?: readonly string[];
  /** Channel patterns its connections may publish to; default: none. */
  readonly publish?: readonly string[];
  /** Seconds until it expires; default: never. */
  readonly ttl?: number;
  /** Who holds it, for presence, webhooks and the `user` of its publications. */
  readonly user?: string;
}

/** Options of `BoreasApi.broadcast()`.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const subscribers = await api.broadcast("news", { text: "hi" }, { dryRun: true });
 * ```
 */
export interface BroadcastOptions extends RequestOptions {
  /** When true, count the recipients but send nothing. Default false. */
  readonly dryRun?: boolean;
}

/** What `BoreasApi.publish()` resolves to: the server's whole answer to a broadcast. With
 * history on (`--history-size`) and not a dry run, also the message's `offset` in its channel
 * and the channel's `epoch`, the same `offset` its subscribers receive.
 *
 * ```ts
 * import { BoreasApi, type Published } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const { recipients, offset }: Published = await api.publish("news", { text: "hi" });
 * ```
 */
export interface Published {
  /** How many connections were sent the message, or with `dryRun` would have been. */
  readonly recipients: number;
  /** The message's offset: 1 for a channel's first message, then 2, 3... */
  readonly offset?: number;
  /** The epoch the offset belongs to. */
  readonly epoch?: string;
}

/** What `BoreasApi.broadcastMany()` resolves to: the server's answer to `POST /broadcast/`,
 * by channel, each channel named once. With history on and not a dry run, also where the
 * message stands in each channel: its `offset` there and the channel's `epoch`.
 *
 * ```ts
 * import { BoreasApi, type PublishedMany } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const { recipients }: PublishedMany = await api.broadcastMany(["a", "b"], { text: "hi" });
 * console.log(recipients.a, recipients.b);
 * ```
 */
export interface PublishedMany {
  /** How many connections each channel's message was sent to, or with `dryRun` would be. */
  readonly recipients: Readonly<Record<string, number>>;
  /** Each channel's message's offset and the channel's epoch; absent with history off and
   * for a dry run. */
  readonly positions?: Readonly<
    Record<string, { readonly offset: number; readonly epoch: string }>
  >;
}

/** Options of `BoreasApi.history()`.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const page = await api.history("news", { since: 40, limit: 10 });
 * ```
 */
export interface HistoryOptions extends RequestOptions {
  /** Only messages with an offset above this one. Default 0: every message kept. */
  readonly since?: number;
  /** At most this many messages, from 1 to the server's limit (1000). Default: the server's
   * (100). */
  readonly limit?: number;
}

/** One kept message, as `GET /history/` lists it. */
export interface HistoryMessage<T = unknown> {
  readonly offset: number;
  /** The broadcast's `payload`, as JSON parsed it; not checked against `T`. */
  readonly message: T;
}

/** What `GET /history/{channel}/` answers: the channel's epoch and last offset, and the kept
 * messages asked for, oldest first.
 *
 * ```ts
 * import { BoreasApi, type History } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const { epoch, offset, messages }: History = await api.history("news");
 * ```
 */
export interface History<T = unknown> {
  readonly epoch: string;
  /** The channel's last offset; 0 when it has had no message in this epoch. */
  readonly offset: number;
  readonly messages: readonly HistoryMessage<T>[];
}

/** The server's counters, as `GET /stats` answers them (field names as on the wire).
 *
 * ```ts
 * import { BoreasApi, type Stats } from "./mod.ts";
 *
 * const stats: Stats = await new BoreasApi({ url: "http://localhost:8001" }).stats();
 * const open = stats.connections.anonymous + stats.connections.authenticated;
 * ```
 */
export interface Stats {
  /** Open WebSocket connections, by whether they have authenticated. */
  readonly connections: { readonly anonymous: number; readonly authenticated: number };
  /** Tokens that may authenticate. */
  readonly tokens: number;
  /** Channels with at least one subscriber. */
  readonly channels: number;
  /** Broadcasts published since start, one per channel of a broadcast to many (dry runs
   * excluded). */
  readonly "messages_published": number;
  /** Clients' publications delivered since start; absent from servers without them. */
  readonly "client_publications"?: number;
  /** Frames handed to subscribers since start. */
  readonly "frames_delivered": number;
  /** Subscribers dropped for not reading. */
  readonly "slow_consumers_dropped": number;
  /** WebSocket upgrades refused (too many connections, shutting down). */
  readonly "connections_refused": number;
  /** Connections closed for breaking a limit. */
  readonly "connections_closed_for_limits": number;
  /** Webhook events dropped (queue full, or given up after retries); absent from servers
   * without webhooks support. */
  readonly "webhook_events_dropped"?: number;
  /** Seconds since the server started, rounded. */
  readonly "uptime_seconds": number;
  /** The server process's memory, in bytes. */
  readonly memory: { readonly "rss_bytes": number; readonly "heap_used_bytes": number };
}

/** What `GET /health` says: `ok` while serving, `shutting down` once a shutdown began,
 * `degraded` (with `errors`) while a cluster node cannot use its Redis.
 *
 * ```ts
 * import { BoreasApi, type Health } from "./mod.ts";
 *
 * const health: Health = await new BoreasApi({ url: "http://localhost:8001" }).health();
 * if (health.status !== "ok") console.log("Boreas is going away");
 * ```
 */
export interface Health {
  /** `ok` (HTTP 200), or `shutting down` or `degraded` (HTTP 503). */
  readonly status: "ok" | "shutting down" | "degraded";
  /** What is wrong, when `degraded`: `redis: ...` messages. */
  readonly errors?: readonly string[];
}

/** A user's block, as the server shows it.
 *
 * ```ts
 * import type { UserBlock } from "./mod.ts";
 *
 * const block: UserBlock = { "expires_at": null };
 * ```
 */
export interface UserBlock {
  /** When it ends, in Unix seconds; null: when it is lifted (`unblockUser`). */
  readonly "expires_at": number | null;
}

/** What `GET /users/{user}/` answers (field names as on the wire).
 *
 * ```ts
 * import { BoreasApi, type UserState } from "./mod.ts";
 *
 * const state: UserState = await new BoreasApi({ url: "http://localhost:8001" }).user("alice");
 * if (state.block !== null) console.log("alice is blocked");
 * ```
 */
export interface UserState {
  /** Connections authenticated with a token that names the user, on every node. */
  readonly connections: number;
  /** Stored tokens naming the user that may authenticate (JWTs are not stored). */
  readonly tokens: number;
  /** The user's block, or null when they are not blocked. */
  readonly block: UserBlock | null;
}

/** Options of `BoreasApi.disconnectUser()`.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * await api.disconnectUser("alice", { revoke: false }); // they may reconnect
 * ```
 */
export interface DisconnectUserOptions extends RequestOptions {
  /** Whether the stored tokens naming the user are revoked too. Default true. */
  readonly revoke?: boolean;
}

/** What `DELETE /users/{user}/` answers.
 *
 * ```ts
 * import { BoreasApi, type UserDisconnected } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const { closed, revoked }: UserDisconnected = await api.disconnectUser("alice");
 * ```
 */
export interface UserDisconnected {
  /** How many of the user's connections were closed, on every node. */
  readonly closed: number;
  /** How many stored tokens naming the user were revoked. */
  readonly revoked: number;
}

/** Options of `BoreasApi.blockUser()`.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * await api.blockUser("alice", { ttl: 3600 }); // for an hour
 * ```
 */
export interface BlockUserOptions extends RequestOptions {
  /** How long the block lasts, in whole seconds above 0. Default: until `unblockUser`. */
  readonly ttl?: number;
}

/** What `PUT /users/{user}/block` answers.
 *
 * ```ts
 * import { BoreasApi, type UserBlocked } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * const { closed, block }: UserBlocked = await api.blockUser("alice");
 * ```
 */
export interface UserBlocked {
  /** How many of the user's connections were closed, on every node. */
  readonly closed: number;
  readonly block: UserBlock;
}
