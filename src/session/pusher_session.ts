/**
 * @module
 * One Pusher connection's server side, on a `Session`: the session holds it in the hub, joins
 * and leaves its channels (named per app, see pusher_apps.ts) and closes it; this adds what
 * Pusher asks of a connection: a socket id, channel authorizations, sign-in, and client
 * events with their rules. One handler per client message type. Knows nothing of sockets.
 */

import { isValidChannelAuth, isValidUserAuth } from "../auth/pusher_signatures.ts";
import { clientReason } from "../backend/errors.ts";
import type { PusherApp } from "../config_pusher_apps.ts";
import {
  CACHE_TTL_MS,
  isAuthorizedChannel,
  isCacheChannel,
  isPresenceChannel,
  newSocketId,
  PUSHER_CODES,
  PUSHER_PONG,
  type PusherClientMessage,
  renderCacheMiss,
  renderConnectionEstablished,
  renderPusherError,
  renderPusherEvent,
  renderSigninSuccess,
  renderSubscriptionError,
  renderSubscriptionSucceeded,
} from "../protocol/pusher.ts";
import type { PusherWebhooks } from "../webhooks/pusher.ts";
import { errorMessage, utf8LengthOver } from "../text.ts";
import type { SessionContext } from "./context.ts";
import { pusherHubChannel, pusherHubUser } from "./pusher_apps.ts";
import type { EventCache } from "../backend/event_cache.ts";
import type { MemberRoster } from "../backend/members.ts";
import { type PresenceMember, presenceMembers, type PusherPresence } from "./pusher_presence.ts";
import { Session, type Wire } from "./session.ts";
import { RateLimit } from "../rate_limit.ts";

/** Client events one connection may send per second, as Pusher allows. */
export const CLIENT_EVENTS_PER_SECOND = 10;

const USER_CHANNEL_PREFIX = "#server-to-user-";

/** A Pusher connection: its app, socket id, signed-in user and channels. */
export class PusherSession {
  readonly session: Session;
  readonly app: PusherApp;
  readonly socketId: string = newSocketId();
  /** The Pusher names of the channels it has subscribed to. */
  readonly #channels = new Set<string>();
  /** Who it is in each presence channel it has subscribed to, by Pusher name. */
  // Made at the first presence subscription: most connections never make one.
  #members: Map<string, PresenceMember> | undefined;
  readonly #presence: PusherPresence;
  readonly #webhooks: PusherWebhooks;
  readonly #cache: EventCache;
  #userId: string | null = null;
  readonly #clientEvents = new RateLimit(CLIENT_EVENTS_PER_SECOND);

  /** `context` is the app's sessions' (see `PusherApps.admit`). */
  constructor(
    wire: Wire,
    { app, context, presence, webhooks, cache }: {
      app: PusherApp;
      context: SessionContext;
      presence: PusherPresence;
      webhooks: PusherWebhooks;
      cache: EventCache;
    },
  ) {
    this.app = app;
    this.#presence = presence;
    this.#webhooks = webhooks;
    this.#cache = cache;
    this.session = new Session(wire, context);
  }

  /** Opens the session and tells the client its socket id; false during a shutdown. */
  open(): boolean {
    if (!this.session.open()) return false;
    this.session.write(renderConnectionEstablished(this.socketId, this.app.activityTimeout));
    return true;
  }

  /** Answers one client message. */
  handle(message: PusherClientMessage): Promise<void> | void {
    switch (message.type) {
      case "ping":
        return void this.session.write(PUSHER_PONG);
      case "pong":
        return;
      case "subscribe":
        return this.#subscribe(message);
      case "unsubscribe":
        return this.#unsubscribe(message.channel);
      case "signin":
        return this.#signin(message);
      case "client":
        return this.#clientEvent(message);
    }
  }

  /** Answers a frame that is no message: a subscription to a bad channel name with
   * `pusher:subscription_error` (status 400) for that channel, as Pusher does, so that the
   * client's channel hears of it; anything else with `pusher:error` without a code. */
  refuse({ error, channel }: { error: string; channel?: string }): void {
    if (channel === undefined) return this.error(null, error);
    this.session.write(
      renderSubscriptionError(channel, error, { type: "InvalidChannel", status: 400 }),
    );
  }

  /** Writes `pusher:error` with `code` (null: none) and `message`. */
  error(code: number | null, message: string): void {
    this.session.write(renderPusherError(code, message));
  }

  async #subscribe(
    { channel, auth, channelData }: Extract<PusherClientMessage, { type: "subscribe" }>,
  ): Promise<void> {
    const refuse = (error: string) =>
      void this.session.write(renderSubscriptionError(channel, error));
    let member: PresenceMember | undefined;
    if (channel.startsWith(USER_CHANNEL_PREFIX)) {
      if (this.#userId === null || channel !== `${USER_CHANNEL_PREFIX}${this.#userId}`) {
        return refuse("Only a signed-in user may subscribe to their own #server-to-user- channel");
      }
    } else if (isAuthorizedChannel(channel)) {
      const isPresence = isPresenceChannel(channel);
      const signed = isPresence ? channelData ?? "" : undefined;
      const check = { channel, auth: auth ?? "", channelData: signed };
      if (auth === undefined || !isValidChannelAuth(this.app, this.socketId, check)) {
        const text = signed === undefined ? "" : ":channel_data";
        return refuse(`Invalid signature: expected HMAC-SHA256 of "socket_id:channel${text}"`);
      }
      if (isPresence) {
        member = parseMember(channelData ?? "");
        if (member === undefined) {
          return refuse("channel_data: expected a JSON object with a user_id");
        }
      }
    }
    const hubChannel = pusherHubChannel(this.app, channel);
    if (this.#channels.has(channel)) {
      if (this.#members?.has(channel) !== true) return this.#succeeded(channel);
      return this.#succeeded(channel, await this.#roster(hubChannel));
    }
    if (member !== undefined) {
      // Who it is there, before the hub's change makes it count.
      (this.#members ??= new Map()).set(channel, member);
      this.#presence.enter(this.session, hubChannel, member);
    }
    let isJoined = false;
    await this.session.join({ join: [hubChannel], leave: [] }, (outcome) => {
      if ("error" in outcome) {
        this.#forget(channel);
        const isLimit = !outcome.error.startsWith("channels.join: cannot be joined now");
        this.session.write(
          renderSubscriptionError(
            channel,
            outcome.error,
            isLimit ? { type: "LimitReached", status: 429 } : { type: "Unavailable", status: 503 },
          ),
        );
        return;
      }
      isJoined = true;
      this.#channels.add(channel);
      this.#succeeded(channel, outcome.members.get(hubChannel));
    });
    if (isJoined && isCacheChannel(channel)) await this.#replayCached(channel, hubChannel);
  }

  /** Sends a new subscriber of a `cache-` channel its last event, or `pusher:cache_miss` (and
   * the `cache_miss` webhook). */
  async #replayCached(channel: string, hubChannel: string): Promise<void> {
    let frame: string | null;
    try {
      frame = await this.#cache.get(hubChannel);
    } catch (error) {
      this.session.context.logger.warn("cached event not read", { error: errorMessage(error) });
      return;
    }
    if (frame !== null) return void this.session.write(frame);
    this.session.write(renderCacheMiss(channel));
    this.#webhooks.send(this.app.id, { name: "cache_miss", channel });
  }

  /** Writes `subscription_succeeded`, with the members on a presence channel. */
  #succeeded(channel: string, roster?: MemberRoster): void {
    const members = this.#members?.has(channel) === true
      ? { members: presenceMembers(roster), count: roster?.count ?? 0 }
      : undefined;
    this.session.write(renderSubscriptionSucceeded(channel, members));
  }

  /** The members of a presence channel the connection is already in. */
  async #roster(hubChannel: string): Promise<MemberRoster | undefined> {
    const { members, logger } = this.session.context;
    try {
      return (await members?.list([hubChannel]))?.get(hubChannel);
    } catch (error) {
      logger.warn("presence members not listed", { error: errorMessage(error) });
      return undefined;
    }
  }

  /** Called once the connection has closed: it is nobody in any presence channel any more. */
  closed(): void {
    this.#presence.exit(this.session);
  }

  #forget(channel: string): void {
    if (this.#members?.delete(channel) !== true) return;
    this.#presence.exit(this.session, pusherHubChannel(this.app, channel));
  }

  async #unsubscribe(channel: string): Promise<void> {
    if (!this.#channels.delete(channel)) return;
    await this.session.join({ join: [], leave: [pusherHubChannel(this.app, channel)] }, () => {});
    this.#forget(channel);
  }

  #signin({ auth, userData }: Extract<PusherClientMessage, { type: "signin" }>): void {
    if (!isValidUserAuth(this.app, this.socketId, { userData, auth })) {
      return this.error(PUSHER_CODES.unauthorized, "pusher:signin: invalid signature");
    }
    let id: unknown;
    try {
      id = (JSON.parse(userData) as { id?: unknown } | null)?.id;
    } catch {
      // Answered below.
    }
    if (typeof id !== "string" && typeof id !== "number") {
      return this.error(
        PUSHER_CODES.unauthorized,
        "pusher:signin: user_data: expected a JSON object with an id",
      );
    }
    this.#userId = String(id);
    // Named in the hub, so that terminate_connections finds it on whichever node it is.
    const { hub } = this.session.context;
    const token = hub.sessionOf(this.session)?.token;
    if (token !== null && token !== undefined) {
      hub.authenticate(this.session, token, pusherHubUser(this.app, this.#userId));
    }
    this.session.write(renderSigninSuccess(userData));
  }

  async #clientEvent(
    { event, channel, data }: Extract<PusherClientMessage, { type: "client" }>,
  ): Promise<void> {
    const refuse = (why: string) => this.error(PUSHER_CODES.clientEventRejected, why);
    if (!this.app.enableClientMessages) {
      return refuse(`${event}: client events are not enabled for this app`);
    }
    if (!isAuthorizedChannel(channel)) {
      return refuse(`${event}: client events go on private and presence channels only`);
    }
    if (channel.startsWith("private-encrypted-")) {
      // Their plaintext would enter a channel whose events are encrypted end to end.
      return refuse(`${event}: client events are not allowed on private-encrypted- channels`);
    }
    if (!this.#channels.has(channel)) {
      return refuse(`${event}: subscribe to ${channel} before sending client events to it`);
    }
    const max = Math.floor(this.app.maxEventPayloadKb * 1024);
    const bytes = utf8LengthOver(data, max);
    if (bytes !== null) return refuse(`${event}: data of ${bytes} bytes, more than ${max}`);
    if (!this.#clientEvents.take()) {
      return refuse(`${event}: more than ${CLIENT_EVENTS_PER_SECOND} client events a second`);
    }
    const { broker, metrics, logger } = this.session.context;
    const memberId = this.#members?.get(channel)?.userId;
    // Pusher names the sender with a string, whatever its channel_data gave.
    const userId = memberId === undefined ? undefined : String(memberId);
    const frame = renderPusherEvent(event, channel, data, userId);
    try {
      await broker.publish(pusherHubChannel(this.app, channel), frame, { except: this.session });
    } catch (error) {
      logger.warn("client event not sent", { error: errorMessage(error) });
      return this.error(null, `${event}: cannot be sent now (${clientReason(error)})`);
    }
    metrics.clientPublications++;
    if (isCacheChannel(channel)) {
      await this.#cache.set(pusherHubChannel(this.app, channel), frame, CACHE_TTL_MS).catch(
        (error: unknown) => logger.warn("client event not cached", { error: errorMessage(error) }),
      );
    }
    this.#webhooks.send(this.app.id, {
      name: "client_event",
      channel,
      event,
      // Pusher's webhooks give the data as a string: a string as it is, else its JSON.
      data: data.startsWith('"') ? JSON.parse(data) : data,
      "socket_id": this.socketId,
      ...(userId === undefined ? {} : { "user_id": userId }),
    });
  }
}

/** The member a presence subscription's `channel_data` names: `user_id` a non-empty string or
 * a number (Laravel sends numbers), `user_info` anything. */
function parseMember(channelData: string): PresenceMember | undefined {
  let value: unknown;
  try {
    value = JSON.parse(channelData);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const { user_id: userId, user_info: userInfo } = value as Record<string, unknown>;
  const isId = (typeof userId === "string" && userId !== "") ||
    (typeof userId === "number" && Number.isFinite(userId));
  if (!isId) return undefined;
  return userInfo === undefined ? { userId } : { userId, userInfo };
}
