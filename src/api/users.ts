/**
 * @module
 * The `/users/{user}/` routes: how many connections and tokens a user has and whether they are
 * blocked; closing their connections on every node (and revoking their tokens); blocking and
 * unblocking them.
 */

import { parseBlockRequest } from "../blocks.ts";
import { endAfter } from "../ttl.ts";
import { isUserName, MAX_USER_LENGTH } from "../grants.ts";
import { readJsonBody } from "./body.ts";
import type { ApiContext } from "./context.ts";
import { HttpError, jsonResponse } from "./response.ts";
import type { Route, RouteContext } from "./router.ts";

/** The user routes. */
export function userRoutes(
  { cluster, logger, maxBodyBytes, bodyTimeout }: ApiContext,
): Route[] {
  const { tokens, users, membership } = cluster;
  return [
    {
      method: "GET",
      path: "/users/:user",
      handler: async (context) => {
        const user = userParam(context);
        const [connections, held, block] = await Promise.all([
          membership.userConnections(user),
          tokens.userTokens(user),
          users.blockOf(user),
        ]);
        return jsonResponse({
          connections,
          tokens: held.length,
          block: block === null ? null : { "expires_at": block.expiresAt },
        });
      },
    },
    {
      method: "DELETE",
      path: "/users/:user",
      handler: async (context) => {
        const user = userParam(context);
        const isRevoking = revokeParam(new URL(context.request.url).searchParams);
        // Their tokens are listed first, and revoked after the closes: each connection is
        // closed once, with 4005, not 4001.
        const held = isRevoking ? await tokens.userTokens(user) : [];
        const closed = await users.disconnect(user);
        let revoked = 0;
        for (const token of held) if (await tokens.revoke(token)) revoked++;
        logger.info("user disconnected", { user, closed, revoked });
        return jsonResponse({ closed, revoked });
      },
    },
    {
      method: "PUT",
      path: "/users/:user/block",
      handler: async (context) => {
        const user = userParam(context);
        const body = await readJsonBody(context.request, maxBodyBytes, {
          isOptional: true,
          timeoutMs: bodyTimeout * 1000,
        });
        const parsed = parseBlockRequest(body);
        if (!parsed.ok) throw new HttpError(400, parsed.error);
        const expiresAt = parsed.ttl === null ? null : endAfter(parsed.ttl);
        const closed = await users.block(user, { expiresAt });
        logger.info("user blocked", { user, closed, ...(expiresAt === null ? {} : { expiresAt }) });
        return jsonResponse({ closed, block: { "expires_at": expiresAt } });
      },
    },
    {
      method: "DELETE",
      path: "/users/:user/block",
      handler: async (context) => {
        const user = userParam(context);
        if (!await users.unblock(user)) throw new HttpError(404, "user: not blocked");
        logger.info("user unblocked", { user });
        return new Response(null, { status: 204 });
      },
    },
  ];
}

/** The `user` path parameter; 400 when it is longer than a grant's `user` may be. */
function userParam({ params }: RouteContext): string {
  const user = params.user ?? "";
  if (!isUserName(user)) {
    throw new HttpError(
      400,
      `user: expected at most ${MAX_USER_LENGTH} characters, without lone surrogates`,
    );
  }
  return user;
}

/** The `revoke` query parameter: `true` (the default) or `false`; 400 otherwise. */
function revokeParam(query: URLSearchParams): boolean {
  const raw = query.get("revoke");
  if (raw === null || raw === "true") return true;
  if (raw === "false") return false;
  throw new HttpError(400, `revoke: expected true or false, got ${JSON.stringify(raw)}`);
}
