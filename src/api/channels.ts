/**
 * @module
 * `GET /channels/?limit=N`: the busiest channels, cluster-wide, by subscribers (most first, then
 * by name), for the dashboard and for operators.
 */

import type { ApiContext } from "./context.ts";
import { wholeNumber } from "./query.ts";
import { jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The default and the largest `limit`. */
export const CHANNEL_LIMITS = { default: 10, max: 1000 } as const;

/** The channel list route. */
export function channelRoutes({ cluster }: ApiContext): Route[] {
  return [{
    method: "GET",
    path: "/channels",
    handler: async ({ request }) => {
      const query = new URL(request.url).searchParams;
      const limit = wholeNumber(query, "limit", 1, CHANNEL_LIMITS.max) ?? CHANNEL_LIMITS.default;
      const { channels } = await cluster.membership.snapshot();
      const busiest = [...channels]
        .sort(([a, countA], [b, countB]) => countB - countA || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, limit)
        .map(([name, subscribers]) => ({ name, subscribers }));
      return jsonResponse({ channels: busiest });
    },
  }];
}
