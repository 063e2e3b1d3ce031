/**
 * @module
 * The `/token/` routes: mint, list the tokens in use (all, or on one channel), and revoke.
 */

import { CLOSE } from "../protocol.ts";
import { tokenFingerprint } from "../tokens.ts";
import type { ApiContext } from "./context.ts";
import { channelParam } from "./channel_param.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The token routes. */
export function tokenRoutes({ hub, tokens, logger }: ApiContext): Route[] {
  return [
    {
      method: "POST",
      path: "/token",
      handler: async () => jsonResponse({ token: await tokens.mint() }),
    },
    {
      method: "GET",
      path: "/token",
      handler: () => jsonResponse({ tokens: hub.activeTokens() }),
    },
    {
      method: "DELETE",
      path: "/token/:token",
      handler: async ({ params }) => {
        const token = params.token ?? "";
        // Durable first: when the token store cannot be written, nothing changes.
        const wasStored = await tokens.revoke(token);
        const closed = hub.disconnectToken(token, CLOSE.revoked.code, CLOSE.revoked.reason);
        if (!wasStored && closed === 0) throw new HttpError(404, "token: no such token");
        logger.info("token revoked", { token: tokenFingerprint(token), closed });
        return new Response(null, { status: 204 });
      },
    },
    {
      method: "GET",
      path: "/:channel/token",
      handler: (context) => jsonResponse({ tokens: hub.channelTokens(channelParam(context)) }),
    },
  ];
}
