/**
 * @module
 * Checks an access token, whatever carries it (a WebSocket's `access_token`, an SSE request):
 * a JWT against the configured key, anything else against the token registry. Knows nothing of
 * connections.
 */

import type { TokenGrant } from "./grants.ts";
import { type JwtVerifier, looksLikeJwt } from "./jwt.ts";
import type { Logger } from "./log.ts";
import { clientReason } from "./cluster/errors.ts";
import { errorMessage } from "./text.ts";
import type { TokenRegistry } from "./tokens.ts";

/** What checking a token gave: its grant, or the error a client is told (`access_token: ...`),
 * and whether the token could not be checked at all (the backend is unavailable). */
export type AccessCheck =
  | { ok: true; grant: TokenGrant }
  | { ok: false; error: string; isUnavailable?: true };

/** Checks `token`. A refused JWT's reason goes to the debug log, never the token. */
export async function checkAccessToken(
  token: string,
  { tokens, jwt, logger }: { tokens: TokenRegistry; jwt: JwtVerifier | null; logger: Logger },
): Promise<AccessCheck> {
  // A JWT is checked here, without Redis: minted tokens have no dots, so none is taken for one.
  if (jwt !== null && looksLikeJwt(token)) {
    const verified = await jwt.verify(token);
    if ("grant" in verified) return { ok: true, grant: verified.grant };
    logger.debug("JWT refused", { reason: verified.problem });
    return { ok: false, error: "access_token: invalid token" };
  }
  let grant: TokenGrant | null;
  try {
    grant = await tokens.lookup(token);
  } catch (error) {
    logger.warn("token not checked", { error: errorMessage(error) });
    return {
      ok: false,
      error: `access_token: cannot be checked now (${clientReason(error)})`,
      isUnavailable: true,
    };
  }
  return grant === null ? { ok: false, error: "access_token: unknown token" } : { ok: true, grant };
}
