/**
 * @module
 * The Pusher apps this node serves: finding an app by the key of a WebSocket path, admitting a
 * connection (protocol version, the app's `maxConnections`), counting each app's connections,
 * and naming an app's channels in the hub so that apps stay apart from each other and from
 * native channels. Knows nothing of sockets.
 */

import { ADAPTER_CHANNEL_MARK } from "../channel.ts";
import type { PusherApp } from "../config_pusher_apps.ts";
import type { Subscriber } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { PUSHER_CODES, PUSHER_PROTOCOLS } from "../protocol/pusher.ts";
import type { Broker } from "../backend/broker.ts";
import type { EventCache } from "../backend/event_cache.ts";
import type { Members } from "../backend/members.ts";
import { NO_EVENTS } from "../webhooks/events.ts";
import type { SessionContext } from "./context.ts";
import type { PusherPresence } from "./pusher_presence.ts";
import type { PusherWebhooks } from "../webhooks/pusher.ts";

/** Whether a connection may open: yes, for `app` (call `bind` with its socket id once it has
 * one, and `release` once it has closed), or no, with the Pusher code and message to close it
 * with. */
export type Admission =
  | {
    readonly ok: true;
    readonly app: PusherApp;
    /** The context of the app's sessions (built once per endpoint context). */
    readonly context: SessionContext;
    /** Who each connection is in each presence channel. */
    readonly presence: PusherPresence;
    /** The presence channels' members, across the cluster. */
    readonly members: Members;
    /** The apps' webhooks, for client events. */
    readonly webhooks: PusherWebhooks;
    /** The last event of `cache-` channels. */
    readonly cache: EventCache;
    readonly bind: (socketId: string, subscriber: Subscriber) => void;
    readonly release: () => void;
  }
  | { readonly ok: false; readonly code: number; readonly message: string };

const APP_PATH = /^\/app\/([^/]+)$/;

/** The hub's name of `app`'s channel `channel`: the adapter mark, `pusher:`, the app's id and
 * the channel's Pusher name. An app id holds no `:`, so two apps never share a name. */
export function pusherHubChannel(app: PusherApp, channel: string): string {
  return `${ADAPTER_CHANNEL_MARK}pusher:${app.id}:${channel}`;
}

/** The hub's name of `app`'s signed-in user `userId` (as `pusher:signin` named them), apart
 * from native users and other apps' as its channels are: so that the native user control's
 * disconnect closes a Pusher user's connections across the cluster. */
export function pusherHubUser(app: PusherApp, userId: string): string {
  return `${ADAPTER_CHANNEL_MARK}pusher:${app.id}:${userId}`;
}

/** The apps, by key and by id, with their open connections on this node. */
export class PusherApps {
  readonly #byKey: ReadonlyMap<string, PusherApp>;
  readonly #byId: ReadonlyMap<string, PusherApp>;
  readonly #metrics: Metrics;
  /** Names each connection by its socket id, so that a REST trigger's `socket_id` leaves it
   * out on whichever node it is. */
  readonly #broker: Broker;
  /** Who each connection is in each presence channel. */
  readonly presence: PusherPresence;
  /** The presence channels' members, across the cluster. */
  readonly members: Members;
  /** The apps' webhooks. */
  readonly webhooks: PusherWebhooks;
  /** The last event of `cache-` channels, across the cluster. */
  readonly cache: EventCache;
  /** Each endpoint context's Pusher sessions' context, shared by all of them. */
  readonly #contexts = new WeakMap<SessionContext, SessionContext>();

  constructor(
    apps: readonly PusherApp[],
    metrics: Metrics,
    { presence, members, webhooks, cache, broker }: {
      presence: PusherPresence;
      members: Members;
      webhooks: PusherWebhooks;
      cache: EventCache;
      broker: Broker;
    },
  ) {
    this.#broker = broker;
    this.presence = presence;
    this.members = members;
    this.webhooks = webhooks;
    this.cache = cache;
    this.#byKey = new Map(apps.map((app) => [app.key, app]));
    this.#byId = new Map(apps.map((app) => [app.id, app]));
    this.#metrics = metrics;
    for (const app of apps) metrics.pusherConnections.set(app.id, 0);
  }

  /** The app whose id is `id`. */
  byId(id: string): PusherApp | undefined {
    return this.#byId.get(id);
  }

  /** Whether `pathname` is a Pusher WebSocket path, `/app/{key}`, known key or not. */
  isAppPath(pathname: string): boolean {
    return APP_PATH.test(pathname);
  }

  /** Admits a connection to `url` (`/app/{key}?protocol=7`), counting it, or says why not: an
   * unknown key (4001), a protocol other than 5, 6 or 7 (4007), the app full (4100). */
  admit(url: URL, context: SessionContext): Admission {
    const key = APP_PATH.exec(url.pathname)?.[1] ?? "";
    const app = this.#byKey.get(key);
    if (app === undefined) {
      const message = `App key ${key.slice(0, 64)} does not exist`;
      return { ok: false, code: PUSHER_CODES.unknownApp, message };
    }
    const protocol = url.searchParams.get("protocol");
    if (protocol === null || !PUSHER_PROTOCOLS.has(protocol)) {
      return {
        ok: false,
        code: PUSHER_CODES.unsupportedProtocol,
        // Echoed only when short and plain: the message is the close reason too (123 bytes).
        message: `Unsupported protocol version ${
          protocol === null ? "(none)" : /^\d{1,8}$/.test(protocol) ? protocol : "(invalid)"
        }: expected 5, 6 or 7`,
      };
    }
    const counts = this.#metrics.pusherConnections;
    const open = counts.get(app.id) ?? 0;
    if (app.maxConnections !== null && open >= app.maxConnections) {
      return {
        ok: false,
        code: PUSHER_CODES.overQuota,
        message: `Over the app's connection quota of ${app.maxConnections}`,
      };
    }
    counts.set(app.id, open + 1);
    let isReleased = false;
    let bound: string | undefined;
    const bind = (socketId: string, subscriber: Subscriber) => {
      bound = socketId;
      this.#broker.name(socketId, subscriber);
    };
    const release = () => {
      if (isReleased) return;
      isReleased = true;
      counts.set(app.id, (counts.get(app.id) ?? 1) - 1);
      if (bound !== undefined) this.#broker.unname(bound);
    };
    const { presence, members, webhooks, cache } = this;
    let shared = this.#contexts.get(context);
    if (shared === undefined) this.#contexts.set(context, shared = this.#sessionContext(context));
    return { ok: true, app, context: shared, presence, members, webhooks, cache, bind, release };
  }

  /** `context`, fit for Pusher sessions: they are authenticated as they open (an app's
   * signatures decide what they may do), keep no history, are not connections of the native
   * webhooks, and their members are those of the presence channels, across the cluster. */
  #sessionContext(context: SessionContext): SessionContext {
    return {
      ...context,
      requireAuth: false,
      history: null,
      members: this.members,
      events: NO_EVENTS,
      clientPublish: [],
    };
  }
}
