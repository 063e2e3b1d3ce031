/**
 * @module
 * The `/token/` routes: mint (with optional grants), read one, list the tokens in use (all, or
 * on one channel), and revoke.
 */

import { OPEN_GRANT, parseGrantRequest, type TokenGrant } from "../grants.ts";
import { tokenFingerprint } from "../tokens.ts";
import { endAfter } from "../ttl.ts";
import { readJsonBody } from "./body.ts";
import type { ApiContext } from "./context.ts";
import { channelParam } from "./channel_param.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The token routes. */
export function tokenRoutes({ cluster, logger, maxBodyBytes, bodyTimeout }: ApiContext): Route[] {
  const { tokens, membership } = cluster;
  const tokensInUse = async () => (await membership.snapshot()).tokens;
  return [
    {
      method: "POST",
      path: "/token",
      handler: async ({ request }) => {
        const grant = await grantOf(request, { maxBodyBytes, bodyTimeout });
        const token = await tokens.mint(grant);
        return jsonResponse(
          grant.expiresAt === null ? { token } : { token, "expires_at": grant.expiresAt },
        );
      },
    },
    {
      method: "GET",
      path: "/token/:token",
      handler: async ({ params }) => {
        const token = params.token ?? "";
        const grant = await tokens.lookup(token);
        if (grant === null) throw new HttpError(404, "token: no such token");
        return jsonResponse({
          token,
          channels: grant.channels,
          publish: grant.publish,
          "expires_at": grant.expiresAt,
          user: grant.user,
        });
      },
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

/** The grant a `POST /token/` asks for: an empty body (the original's), whatever its headers,
 * grants every channel, forever. Throws 400 naming the field that is wrong. */
async function grantOf(
  request: Request,
  { maxBodyBytes, bodyTimeout }: Pick<ApiContext, "maxBodyBytes" | "bodyTimeout">,
): Promise<TokenGrant> {
  const body = await readJsonBody(request, maxBodyBytes, {
    isOptional: true,
    timeoutMs: bodyTimeout * 1000,
  });
  if (body === undefined) return OPEN_GRANT;
  const parsed = parseGrantRequest(body);
  if (!parsed.ok) throw new HttpError(400, parsed.error);
  const expiresAt = parsed.ttl === null ? null : endAfter(parsed.ttl);
  return { channels: parsed.channels, expiresAt, user: parsed.user, publish: parsed.publish };
}
