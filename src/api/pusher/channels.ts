/**
 * @module
 * `GET /apps/{id}/channels` and `GET /apps/{id}/channels/{channel}`: an app's occupied
 * channels and one channel's state, as the SDKs' `get` reads them, counted across the cluster.
 */

import { isPresenceChannel, pusherChannelProblem } from "../../protocol/pusher.ts";
import { pusherHubChannel } from "../../session/pusher_apps.ts";
import { presenceMembers } from "../../session/pusher_presence.ts";
import { HttpError, jsonResponse } from "../response.ts";
import type { Route } from "../router.ts";
import { channelInfo, type InfoReader, parseInfo } from "./info.ts";
import { readSignedRequest, type SigningContext } from "./signed.ts";

/** The channel routes. */
export function channelRoutes(context: SigningContext & InfoReader): Route[] {
  return [{
    method: "GET",
    path: "/apps/:id/channels",
    handler: async (route) => {
      const { app, query } = await readSignedRequest(route, context);
      const prefix = query.get("filter_by_prefix") ?? "";
      const info = parseInfo(query.get("info"), "info", isPresenceChannel(prefix));
      const start = pusherHubChannel(app, "");
      const { channels } = await context.membership.snapshot();
      const answer: Record<string, unknown> = {};
      for (const [hubName] of channels) {
        if (!hubName.startsWith(start)) continue;
        const channel = hubName.slice(start.length);
        if (!channel.startsWith(prefix)) continue;
        answer[channel] = await channelInfo(context, app, channel, info);
      }
      return jsonResponse({ channels: answer });
    },
  }, {
    method: "GET",
    path: "/apps/:id/channels/:channel",
    handler: async (route) => {
      const { app, query } = await readSignedRequest(route, context);
      const channel = route.params.channel ?? "";
      const problem = pusherChannelProblem(channel);
      if (problem !== null) throw new HttpError(400, problem);
      const info = parseInfo(query.get("info"), "info", isPresenceChannel(channel));
      const counts = await channelInfo(
        context,
        app,
        channel,
        [...new Set(["subscription_count", ...info])],
      );
      const occupied = (counts["subscription_count"] ?? 0) > 0;
      const answer: Record<string, unknown> = { occupied };
      for (const attribute of info) answer[attribute] = counts[attribute];
      return jsonResponse(answer);
    },
  }, {
    method: "GET",
    path: "/apps/:id/channels/:channel/users",
    handler: async (route) => {
      const { app } = await readSignedRequest(route, context);
      const channel = route.params.channel ?? "";
      if (!isPresenceChannel(channel) || pusherChannelProblem(channel) !== null) {
        throw new HttpError(400, "channel: expected a presence- channel");
      }
      const hubChannel = pusherHubChannel(app, channel);
      const roster = (await context.members.list([hubChannel])).get(hubChannel);
      // Ids as strings, as Pusher gives them, whatever the members' channel_data gave.
      const users = presenceMembers(roster).map(({ userId }) => ({ id: String(userId) }));
      return jsonResponse({ users });
    },
  }];
}
