/**
 * @module
 * `POST /broadcast/:channel/`: validates the body and hands one prebuilt frame to the broker.
 */

import { readJsonBody } from "./body.ts";
import { channelParam } from "./channel_param.ts";
import type { ApiContext } from "./context.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** A valid broadcast request body. */
export interface BroadcastRequest {
  readonly payload: unknown;
  readonly dryrun: boolean;
}

/** Checks a parsed body: an object with a non-null `payload` and an optional boolean `dryrun`
 * (default false). Throws 400 naming the field. */
export function parseBroadcastRequest(body: unknown): BroadcastRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "body: expected a JSON object");
  }
  const { payload, dryrun = false } = body as Record<string, unknown>;
  if (payload === undefined || payload === null) {
    throw new HttpError(400, "payload: expected any JSON value but null");
  }
  if (typeof dryrun !== "boolean") throw new HttpError(400, "dryrun: expected a boolean");
  return { payload, dryrun };
}

/** The broadcast route. */
export function broadcastRoutes(
  { cluster, metrics, maxBodyBytes, bodyTimeout }: ApiContext,
): Route[] {
  return [{
    method: "POST",
    path: "/broadcast/:channel",
    handler: async (context) => {
      const channel = channelParam(context);
      const { payload, dryrun } = parseBroadcastRequest(
        await readJsonBody(context.request, maxBodyBytes, { timeoutMs: bodyTimeout * 1000 }),
      );
      if (dryrun) return jsonResponse({ recipients: await cluster.membership.recipients(channel) });
      const { recipients, position } = await cluster.broker.publish(
        channel,
        JSON.stringify(payload),
      );
      metrics.messagesPublished++;
      return jsonResponse(position === undefined ? { recipients } : { recipients, ...position });
    },
  }];
}
