/**
 * @module
 * Channel information as Pusher's REST API gives it: `occupied`, `subscription_count` and
 * `user_count`, counted across the cluster from the hub's names of an app's channels.
 */

import type { Membership } from "../../backend/membership.ts";
import type { PusherApp } from "../../config_pusher_apps.ts";
import { pusherHubChannel } from "../../session/pusher_apps.ts";
import type { Members } from "../../backend/members.ts";
import { HttpError } from "../response.ts";

/** The attributes `info` may ask for. */
const ATTRIBUTES = new Set(["subscription_count", "user_count"]);

/** Where the counts come from. */
export interface InfoReader {
  readonly membership: Membership;
  /** The presence channels' members, across the cluster. */
  readonly members: Members;
}

/** The attributes of an `info` parameter (`"subscription_count,user_count"`); `user_count`
 * only for presence channels (`isPresence`). Throws 400 naming `field`. */
export function parseInfo(info: unknown, field: string, isPresence: boolean): string[] {
  if (info === undefined || info === null || info === "") return [];
  if (typeof info !== "string") throw new HttpError(400, `${field}: expected a string`);
  const attributes = info.split(",").map((part) => part.trim());
  const unknown = attributes.find((attribute) => !ATTRIBUTES.has(attribute));
  if (unknown !== undefined) {
    throw new HttpError(
      400,
      `${field}: ${JSON.stringify(unknown)}: expected subscription_count or user_count`,
    );
  }
  if (attributes.includes("user_count") && !isPresence) {
    throw new HttpError(400, `${field}: user_count is only for presence channels`);
  }
  return attributes;
}

/** The asked `attributes` of `app`'s `channel`. */
export async function channelInfo(
  { membership, members }: InfoReader,
  app: PusherApp,
  channel: string,
  attributes: readonly string[],
): Promise<Record<string, number>> {
  const answer: Record<string, number> = {};
  if (attributes.includes("subscription_count")) {
    answer["subscription_count"] = await membership.recipients(pusherHubChannel(app, channel));
  }
  if (attributes.includes("user_count")) {
    const hubChannel = pusherHubChannel(app, channel);
    answer["user_count"] = (await members.list([hubChannel])).get(hubChannel)?.count ?? 0;
  }
  return answer;
}
