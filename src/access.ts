/**
 * @module
 * Checks an access token, whatever carries it (a WebSocket's `access_token`, an SSE request):
 * a JWT against the configured key, anything else against the token registry; then the user it
 * names (a grant's `user`, a JWT's `sub`) against the blocks. Knows nothing of connections.
 */

import type { TokenGrant } from "./grants.ts";
import { type JwtVerifier, looksLikeJwt } from "./jwt.ts";
import type { Logger } from "./log.ts";
import { clientReason } from "./backend/errors.ts";
import { errorMessage } from "./text.ts";
import type { TokenRegistry } from "./backend/tokens.ts";
import type { BlockCheck } from "./backend/users.ts";

/** What checking a token gave: its grant, or the error a client is told (`access_token: ...`),
 * and whether the token could not be checked at all (the backend is unavailable). */
export type AccessCheck =
  | { ok: true; grant: TokenGrant }
  | { ok: false; error: string; isUnavailable?: true };

/** What checking a token needs. */
export interface AccessContext {
  readonly tokens: TokenRegistry;
  readonly blocks: BlockCheck;
  readonly jwt: JwtVerifier | null;
  readonly logger: Logger;
}

/** Checks `token`, and that the user it names is not blocked. A refused JWT's reason goes to
 * the debug log, never the token. A JWT needs no Redis: when the blocks cannot be read, it is
 * let in unchecked for them (a cluster node closes the connections of blocked users as soon as
 * it can read them again). */
export async function checkAccessToken(
  token: string,
  context: AccessContext,
): Promise<AccessCheck> {
  const { tokens, blocks, jwt, logger } = context;
  // A JWT is checked here, without Redis: minted tokens have no dots, so none is taken for one.
  const isJwt = jwt !== null && looksLikeJwt(token);
  let grant: TokenGrant | null;
  try {
    if (isJwt) {
      const verified = await jwt.verify(token);
      if (!("grant" in verified)) {
        logger.debug("JWT refused", { reason: verified.problem });
        return { ok: false, error: "access_token: invalid token" };
      }
      grant = verified.grant;
    } else {
      grant = await tokens.lookup(token);
      if (grant === null) return { ok: false, error: "access_token: unknown token" };
    }
    if (grant.user !== null && await isBlocked(grant.user, { blocks, isJwt, logger })) {
      return { ok: false, error: "access_token: user blocked" };
    }
    // A revocation heard while the block was read found no connection to close: refuse here.
    if (!isJwt && tokens.wasRevoked(token)) {
      return { ok: false, error: "access_token: unknown token" };
    }
  } catch (error) {
    logger.warn("token not checked", { error: errorMessage(error) });
    return {
      ok: false,
      error: `access_token: cannot be checked now (${clientReason(error)})`,
      isUnavailable: true,
    };
  }
  return { ok: true, grant };
}

/** Whether `user` is blocked; false for a JWT's when the blocks cannot be read. */
async function isBlocked(
  user: string,
  { blocks, isJwt, logger }: { blocks: BlockCheck; isJwt: boolean; logger: Logger },
): Promise<boolean> {
  try {
    return await blocks.blockOf(user) !== null;
  } catch (error) {
    if (!isJwt) throw error;
    logger.warn("JWT let in without a block check", { error: errorMessage(error) });
    return false;
  }
}
