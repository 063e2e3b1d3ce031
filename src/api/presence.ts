/**
 * @module
 * `GET /presence/:channel/`: who is in a channel, across the cluster: its connections, and the
 * distinct users their tokens name.
 */

import { channelParam } from "./channel_param.ts";
import type { ApiContext } from "./context.ts";
import { jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The presence route. */
export function presenceRoutes({ cluster }: ApiContext): Route[] {
  return [{
    method: "GET",
    path: "/presence/:channel",
    handler: async (context) =>
      jsonResponse(await cluster.membership.presence(channelParam(context))),
  }];
}
