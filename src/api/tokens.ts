/**
 * @module
 * The `/token/` routes: mint, list the tokens in use (all, or on one channel), and revoke.
 */

import { tokenFingerprint } from "../tokens.ts";
import type { ApiContext } from "./context.ts";
import { channelParam } from "./channel_param.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The token routes. */
export function tokenRoutes({ cluster, logger }: ApiContext): Route[] {
  const { tokens, membership } = cluster;
  const tokensInUse = async () => (await membership.snapshot()).tokens;
  return [
    {
      method: "POST",
      path: "/token",
      handler: async () => jsonResponse({ token: await tokens.mint() }),
    },
    {
      method: "GET",
      path: "/token",
      handler: async () => jsonResponse({ tokens: (await tokensInUse()).map(([token]) => token) }),
    },
    {
      method: "DELETE",
      path: "/token/:token",
      handler: async ({ params }) => {
        const token = params.token ?? "";
        const closed = (await tokensInUse()).find(([inUse]) => inUse === token)?.[1] ?? 0;
        // Durable first: when the token store cannot be written, nothing changes. The
        // registry's revocation listeners close the token's connections on every node.
        const wasStored = await tokens.revoke(token);
        if (!wasStored && closed === 0) throw new HttpError(404, "token: no such token");
        logger.info("token revoked", { token: tokenFingerprint(token), closed });
        return new Response(null, { status: 204 });
      },
    },
    {
      method: "GET",
      path: "/:channel/token",
      handler: async (context) =>
        jsonResponse({ tokens: await membership.channelTokens(channelParam(context)) }),
    },
  ];
}
