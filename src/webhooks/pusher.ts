/**
 * @module
 * Each Pusher app's webhooks, in Pusher's format: a POST of `{"time_ms", "events": [...]}` with
 * `Content-Type: application/json`, `X-Pusher-Key` (the app's key) and `X-Pusher-Signature`
 * (the hex HMAC-SHA256 of the body with the app's secret), as the SDKs' `webhook().isValid()`
 * checks. One `WebhookSender` per webhook entry (its batching, retries and bounded queue); an
 * entry's `events` filters what it gets. The callers decide once for the cluster what happened
 * (occupancy, members); client events and cache misses happen on one node. Emitting never
 * waits on the network.
 */

import { createHmac } from "node:crypto";
import type { PusherApp, PusherWebhookEvent } from "../config_pusher_apps.ts";
import type { Logger } from "../log.ts";
import type { MemberEvents } from "../backend/members.ts";
import type { Metrics } from "../metrics.ts";
import { pusherChannelParts } from "../session/pusher_presence.ts";
import type { EventBody, EventSink } from "./events.ts";
import { type BatchRequest, WebhookSender } from "./sender.ts";

/** One event as Pusher's webhooks carry it. */
export type PusherHookEvent =
  | {
    readonly name: "channel_occupied" | "channel_vacated" | "cache_miss";
    readonly channel: string;
  }
  | {
    readonly name: "member_added" | "member_removed";
    readonly channel: string;
    readonly "user_id": string;
  }
  | {
    readonly name: "client_event";
    readonly channel: string;
    readonly event: string;
    /** The event's data: as the client sent it, a JSON text (Pusher gives it as a string). */
    readonly data: string;
    readonly "socket_id": string;
    readonly "user_id"?: string;
  };

/** A queued event: an id to tell it apart while it waits, and the event. */
interface Queued {
  readonly id: string;
  readonly event: PusherHookEvent;
}

/** The Pusher apps' webhooks. As an `EventSink`, it takes the occupancy of apps' channels; as
 * `MemberEvents`, their presence members. */
export interface PusherWebhooks extends EventSink, MemberEvents, AsyncDisposable {
  /** Whether any app has a webhook. */
  readonly isOn: boolean;
  /** Sends `event` of the app `appId` to the app's webhooks that take it. */
  send(appId: string, event: PusherHookEvent): void;
}

/** The webhooks of `apps`; a sink that drops everything when none has one. */
export function createPusherWebhooks(
  apps: readonly PusherApp[],
  { queueSize, logger, metrics }: { queueSize: number; logger: Logger; metrics: Metrics },
): PusherWebhooks {
  /** App id → its senders, each with the events it takes. */
  const senders = new Map<string, Array<{ sender: WebhookSender<Queued>; takes: Set<string> }>>();
  for (const app of apps) {
    if (app.webhooks.length === 0) continue;
    senders.set(
      app.id,
      app.webhooks.map(({ url, events }) => ({
        sender: new WebhookSender<Queued>({
          url,
          request: (batch) => pusherRequest(app, batch.map(({ event }) => event)),
          queueSize,
          logger,
          metrics,
        }),
        takes: new Set<PusherWebhookEvent>(events),
      })),
    );
  }
  let next = 0;
  const send = (appId: string, event: PusherHookEvent) => {
    const hooks = senders.get(appId);
    if (hooks === undefined) return;
    const queued = { id: String(next++), event };
    for (const { sender, takes } of hooks) if (takes.has(event.name)) sender.push(queued);
  };
  /** `name` for the hub channel `hubChannel`, when it is an app's. */
  const sendOn = (hubChannel: string, event: (channel: string) => PusherHookEvent) => {
    const parts = pusherChannelParts(hubChannel);
    if (parts !== null) send(parts.appId, event(parts.channel));
  };
  return {
    isOn: senders.size > 0,
    send,
    emit(body: EventBody) {
      if (body.type !== "channel.occupied" && body.type !== "channel.vacated") return;
      const name = body.type === "channel.occupied" ? "channel_occupied" : "channel_vacated";
      sendOn(body.channel, (channel) => ({ name, channel }));
    },
    joined(hubChannel: string, user: string) {
      sendOn(hubChannel, (channel) => ({ name: "member_added", channel, "user_id": user }));
    },
    left(hubChannel: string, user: string) {
      sendOn(hubChannel, (channel) => ({ name: "member_removed", channel, "user_id": user }));
    },
    async [Symbol.asyncDispose]() {
      const all = [...senders.values()].flat();
      await Promise.all(all.map(({ sender }) => sender[Symbol.asyncDispose]()));
    },
  };
}

/** The request of a batch of `app`'s events, stamped now and signed as Pusher signs. */
export function pusherRequest(app: PusherApp, events: readonly PusherHookEvent[]): BatchRequest {
  const body = JSON.stringify({ "time_ms": Date.now(), events });
  const signature = createHmac("sha256", app.secret).update(body).digest("hex");
  return { body, headers: { "x-pusher-key": app.key, "x-pusher-signature": signature } };
}
