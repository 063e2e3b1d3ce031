/**
 * @module
 * `POST /apps/{id}/events` and `POST /apps/{id}/batch_events`: events triggered by a backend
 * (the SDKs' `trigger` and `triggerBatch`), each rendered once and handed to the broker for
 * the app's channels, leaving out the connection of `socket_id`. An event's `data` string goes
 * out as it came in.
 */

import type { Broker } from "../../backend/broker.ts";
import type { EventCache } from "../../backend/event_cache.ts";
import type { PusherApp } from "../../config_pusher_apps.ts";
import type { Metrics } from "../../metrics.ts";
import {
  CACHE_TTL_MS,
  isCacheChannel,
  isPresenceChannel,
  MAX_PUSHER_EVENT_LENGTH,
  pusherChannelProblem,
  renderPusherEvent,
} from "../../protocol/pusher.ts";
import { pusherHubChannel } from "../../session/pusher_apps.ts";
import { utf8LengthOver } from "../../text.ts";
import { HttpError, jsonResponse } from "../response.ts";
import type { Route } from "../router.ts";
import { readSignedRequest, type SigningContext } from "./signed.ts";
import { channelInfo, type InfoReader, parseInfo } from "./info.ts";

/** Channels one event may name, as Pusher allows. */
export const MAX_EVENT_CHANNELS = 100;

/** Events one batch may hold, as Pusher allows. */
export const MAX_BATCH_EVENTS = 10;

/** One event to send. */
interface PusherEvent {
  readonly name: string;
  readonly data: string;
  readonly channels: readonly string[];
  readonly socketId: string | null;
  readonly info: readonly string[];
}

/** What the event routes need. */
export interface EventsContext extends SigningContext, InfoReader {
  readonly broker: Broker;
  /** Where a `cache-` channel's last event is kept. */
  readonly cache: EventCache;
  readonly metrics: Metrics;
}

/** The two event routes. */
export function eventRoutes(context: EventsContext): Route[] {
  return [{
    method: "POST",
    path: "/apps/:id/events",
    handler: async (route) => {
      const { app, body } = await readSignedRequest(route, context);
      const event = parseEvent(app, parseObject(body), "");
      await send(context, app, event);
      if (event.info.length === 0) return jsonResponse({});
      return jsonResponse({ channels: await infoOf(context, app, event) });
    },
  }, {
    method: "POST",
    path: "/apps/:id/batch_events",
    handler: async (route) => {
      const { app, body } = await readSignedRequest(route, context);
      const { batch } = parseObject(body);
      if (!Array.isArray(batch) || batch.length > MAX_BATCH_EVENTS) {
        throw new HttpError(400, `batch: expected a list of at most ${MAX_BATCH_EVENTS} events`);
      }
      const events = batch.map((item, i) => parseEvent(app, item, `batch[${i}].`, true));
      for (const event of events) await send(context, app, event);
      if (events.every((event) => event.info.length === 0)) return jsonResponse({});
      const answers = [];
      for (const event of events) {
        const info = await infoOf(context, app, event);
        answers.push(info[event.channels[0]!] ?? {});
      }
      return jsonResponse({ batch: answers });
    },
  }];
}

async function send(context: EventsContext, app: PusherApp, event: PusherEvent): Promise<void> {
  // Left out on whichever node it is open.
  const except = event.socketId === null ? {} : { exceptName: event.socketId };
  const data = JSON.stringify(event.data);
  for (const channel of event.channels) {
    const frame = renderPusherEvent(event.name, channel, data);
    const hubChannel = pusherHubChannel(app, channel);
    await context.broker.publish(hubChannel, frame, except);
    if (isCacheChannel(channel)) await context.cache.set(hubChannel, frame, CACHE_TTL_MS);
  }
  context.metrics.messagesPublished++;
}

async function infoOf(
  context: EventsContext,
  app: PusherApp,
  event: PusherEvent,
): Promise<Record<string, unknown>> {
  const answers: Record<string, unknown> = {};
  for (const channel of event.channels) {
    answers[channel] = await channelInfo(context, app, channel, event.info);
  }
  return answers;
}

function parseObject(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new HttpError(400, "body: expected JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "body: expected a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Checks one event; `where` prefixes the field names of an error (`batch[2].`). A batch's
 * event names one `channel`. */
function parseEvent(app: PusherApp, value: unknown, where: string, isBatch = false): PusherEvent {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, `${where || "body"}: expected a JSON object`);
  }
  const { name, data, channel, channels, socket_id: socketId, info } = value as Record<
    string,
    unknown
  >;
  if (typeof name !== "string" || name === "" || name.length > MAX_PUSHER_EVENT_LENGTH) {
    throw new HttpError(400, `${where}name: expected 1-${MAX_PUSHER_EVENT_LENGTH} characters`);
  }
  if (typeof data !== "string") throw new HttpError(400, `${where}data: expected a string`);
  const max = Math.floor(app.maxEventPayloadKb * 1024);
  const bytes = utf8LengthOver(data, max);
  if (bytes !== null) {
    throw new HttpError(413, `${where}data: ${bytes} bytes, more than the app's ${max}`);
  }
  const names = isBatch || channel !== undefined ? [channel] : channels;
  if (
    !Array.isArray(names) || names.length === 0 ||
    names.length > (isBatch ? 1 : MAX_EVENT_CHANNELS)
  ) {
    throw new HttpError(
      400,
      isBatch
        ? `${where}channel: expected a channel name`
        : `${where}channels: expected 1-${MAX_EVENT_CHANNELS} channel names, or a channel`,
    );
  }
  for (const name of names) {
    const expected = isBatch || channel !== undefined
      ? "channel: expected a string"
      : "channels: expected strings";
    const problem = typeof name === "string" ? pusherChannelProblem(name) : expected;
    if (problem !== null) throw new HttpError(400, `${where}${problem}`);
  }
  if (socketId !== undefined && (typeof socketId !== "string" || !/^\d+\.\d+$/.test(socketId))) {
    throw new HttpError(400, `${where}socket_id: expected N.N`);
  }
  return {
    name,
    data,
    channels: names as string[],
    socketId: socketId ?? null,
    info: parseInfo(info, `${where}info`, (names as string[]).every(isPresenceChannel)),
  };
}
