/**
 * @module
 * `POST /broadcast/:channel/` and `POST /broadcast/`: validate the body and hand the payload to
 * the broker, for one channel or for each of several.
 */

import { channelNameProblem } from "../channel.ts";
import type { PublishResult } from "../backend/broker.ts";
import { readJsonBody } from "./body.ts";
import { channelParam } from "./channel_param.ts";
import type { ApiContext } from "./context.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The most channels one `POST /broadcast/` may name. */
export const MAX_BROADCAST_CHANNELS = 100;

/** A valid broadcast request body. */
export interface BroadcastRequest {
  readonly payload: unknown;
  readonly dryrun: boolean;
}

/** A valid `POST /broadcast/` body: its channels without repeats, in the order first named. */
export interface BroadcastManyRequest extends BroadcastRequest {
  readonly channels: readonly string[];
}

/** Checks a parsed body: an object with a non-null `payload` and an optional boolean `dryrun`
 * (default false). Throws 400 naming the field. */
export function parseBroadcastRequest(body: unknown): BroadcastRequest {
  const { payload, dryrun = false } = bodyObject(body);
  if (payload === undefined || payload === null) {
    throw new HttpError(400, "payload: expected any JSON value but null");
  }
  if (typeof dryrun !== "boolean") throw new HttpError(400, "dryrun: expected a boolean");
  return { payload, dryrun };
}

/** Checks a parsed `POST /broadcast/` body: a broadcast body with `channels`, a list of 1 to
 * `MAX_BROADCAST_CHANNELS` valid channel names; a name listed twice counts once. Throws 400
 * naming the field (`channels`, `channels[i]`). */
export function parseBroadcastManyRequest(body: unknown): BroadcastManyRequest {
  const { channels } = bodyObject(body);
  if (!Array.isArray(channels)) throw new HttpError(400, "channels: expected a list of names");
  if (channels.length === 0) throw new HttpError(400, "channels: expected at least one name");
  if (channels.length > MAX_BROADCAST_CHANNELS) {
    throw new HttpError(
      400,
      `channels: expected at most ${MAX_BROADCAST_CHANNELS} names, got ${channels.length}`,
    );
  }
  channels.forEach((channel: unknown, i) => {
    const problem = typeof channel === "string"
      ? channelNameProblem(channel)
      : "expected a channel name (a string)";
    if (problem !== null) throw new HttpError(400, `channels[${i}]: ${problem}`);
  });
  return { channels: [...new Set<string>(channels)], ...parseBroadcastRequest(body) };
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "body: expected a JSON object");
  }
  return body as Record<string, unknown>;
}

/** The broadcast routes. */
export function broadcastRoutes(context: ApiContext): Route[] {
  const { cluster, metrics, maxBodyBytes, bodyTimeout } = context;
  const readBody = (request: Request) =>
    readJsonBody(request, maxBodyBytes, { timeoutMs: bodyTimeout * 1000 });
  return [{
    method: "POST",
    path: "/broadcast/:channel",
    handler: async (context) => {
      const channel = channelParam(context);
      const { payload, dryrun } = parseBroadcastRequest(await readBody(context.request));
      if (dryrun) return jsonResponse({ recipients: await cluster.membership.recipients(channel) });
      const { recipients, position } = await cluster.broker.publish(
        channel,
        JSON.stringify(payload),
      );
      metrics.messagesPublished++;
      return jsonResponse(position === undefined ? { recipients } : { recipients, ...position });
    },
  }, {
    method: "POST",
    path: "/broadcast",
    handler: async ({ request }) => {
      const { channels, payload, dryrun } = parseBroadcastManyRequest(await readBody(request));
      if (dryrun) {
        const counts = await Promise.all(channels.map((c) => cluster.membership.recipients(c)));
        return jsonResponse({ recipients: byChannel(channels, (_, i) => counts[i]) });
      }
      const results = await cluster.broker.publishMany(channels, JSON.stringify(payload));
      // Each channel's message is one message published, as if broadcast on its own.
      metrics.messagesPublished += results.size;
      return jsonResponse(manyAnswer(results));
    },
  }];
}

/** `{"recipients": {...}}`, and with history on `"positions": {channel: {offset, epoch}}`. */
function manyAnswer(results: ReadonlyMap<string, PublishResult>): Record<string, unknown> {
  const channels = [...results.keys()];
  const recipients = byChannel(channels, (channel) => results.get(channel)!.recipients);
  const isKept = results.values().some(({ position }) => position !== undefined);
  if (!isKept) return { recipients };
  return { recipients, positions: byChannel(channels, (c) => results.get(c)!.position) };
}

/** An object keyed by channel (own properties even for names such as `__proto__`). */
function byChannel(
  channels: readonly string[],
  value: (channel: string, i: number) => unknown,
): Record<string, unknown> {
  return Object.fromEntries(channels.map((channel, i) => [channel, value(channel, i)]));
}
