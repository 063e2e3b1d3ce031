/**
 * @module
 * `GET /history/:channel/?since=K&limit=N`: a channel's kept messages after offset K, oldest
 * first, with its epoch and top offset. 404 naming `--history-size` when history is off.
 */

import { channelParam } from "./channel_param.ts";
import type { ApiContext } from "./context.ts";
import { wholeNumber } from "./query.ts";
import { HttpError } from "./response.ts";
import type { Route } from "./router.ts";

/** The default and the largest `limit`. */
export const HISTORY_LIMITS = { default: 100, max: 1000 } as const;

/** The history route. */
export function historyRoutes({ cluster }: ApiContext): Route[] {
  return [{
    method: "GET",
    path: "/history/:channel",
    handler: async (context) => {
      const channel = channelParam(context);
      const history = cluster.history;
      if (history === null) {
        throw new HttpError(404, "history: off on this server (start it with --history-size N)");
      }
      const query = new URL(context.request.url).searchParams;
      const since = wholeNumber(query, "since", 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const limit = wholeNumber(query, "limit", 1, HISTORY_LIMITS.max) ?? HISTORY_LIMITS.default;
      const { epoch, offset, messages } = await history.read(channel, since, limit);
      // The payloads are kept as JSON text: spliced in, not parsed and rendered again.
      const items = messages.map((kept) =>
        `{"offset": ${kept.offset}, "message": ${kept.payload}${
          kept.user === undefined ? "" : `, "user": ${JSON.stringify(kept.user)}`
        }}`
      );
      const body = `{"epoch": ${JSON.stringify(epoch)}, "offset": ${offset}, "messages": [${
        items.join(", ")
      }]}`;
      return new Response(body, { headers: { "content-type": "application/json" } });
    },
  }];
}
