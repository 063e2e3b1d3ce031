/**
 * @module
 * A typed client for Boreas, the WebSocket pub/sub server: `BoreasApi` for publishers (tokens,
 * broadcasts, users, health, stats over HTTP) and `BoreasSubscriber` for subscribers (a WebSocket, or
 * a Server-Sent Events stream where WebSockets do not get through, that authenticates, joins
 * channels, reconnects on its own, resumes where it left off when the server keeps history,
 * yields broadcasts, and says who is in the channels with join and leave events). It uses only
 * web-platform APIs (`fetch`, `WebSocket`, `ReadableStream`, `AbortSignal`, `setTimeout`), so it
 * runs unchanged in Deno, browsers and Node.js 22+.
 *
 * ```ts
 * import { BoreasApi, BoreasSubscriber } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * await using subscriber = await BoreasSubscriber.connect({
 *   url: "ws://localhost:8002/",
 *   token: await api.createToken(),
 *   channels: ["news"],
 * });
 * await api.broadcast("news", { text: "hello" });
 * for await (const { channel, message } of subscriber) {
 *   console.log(channel, message); // news { text: "hello" }
 *   break;
 * }
 * ```
 */

export { BoreasApi } from "./api.ts";
export type {
  BlockUserOptions,
  BoreasApiOptions,
  BroadcastOptions,
  CreateTokenOptions,
  DisconnectUserOptions,
  Health,
  History,
  HistoryMessage,
  HistoryOptions,
  Published,
  PublishedMany,
  RequestOptions,
  Stats,
  UserBlock,
  UserBlocked,
  UserDisconnected,
  UserState,
} from "./api_types.ts";
export { backoffDelay, DEFAULT_RECONNECT, type ReconnectOptions } from "./backoff.ts";
export { BoreasApiError, BoreasSubscriberError, type SubscriberErrorKind } from "./errors.ts";
export { BoreasSubscriber } from "./subscriber.ts";
export type {
  BoreasSubscriberOptions,
  BroadcastEvent,
  BroadcastMessage,
  ChannelMembers,
  MemberEvent,
  MembersEvent,
  RecoveryEvent,
  StreamPosition,
  SubscriberEvent,
  SubscriberState,
  SubscriberTransport,
  WaitOptions,
  WebSocketConstructor,
} from "./subscriber_types.ts";
