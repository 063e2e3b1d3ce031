/**
 * @module
 * The tokens that may authenticate, with what each grants: the interface every backend
 * implements (memory_tokens.ts, redis_tokens.ts).
 */

import type { TokenGrant } from "../grants.ts";

/** Called with each token revoked, on every node, once it no longer authenticates. */
export type RevocationListener = (token: string) => void;

/** The tokens that may authenticate, wherever they are kept: this process (`MemoryTokens`) or
 * the cluster's Redis, each with what it grants. Every method rejects with
 * `BackendUnavailableError` when the tokens cannot be reached, and then nothing changed. */
export interface TokenRegistry {
  /** Mints a token granting `grant` (default: every channel, forever), stores it so that
   * every node accepts it, and returns it. */
  mint(grant?: TokenGrant): Promise<string>;
  /** What `token` grants, or null when it may not authenticate (unknown, revoked or
   * expired). */
  lookup(token: string): Promise<TokenGrant | null>;
  /** Whether `token` may authenticate now. */
  isValid(token: string): Promise<boolean>;
  /** Makes `token` refused everywhere; resolves to whether it was valid. The revocation
   * listeners then run on every node, whether it was valid or not. */
  revoke(token: string): Promise<boolean>;
  /** How many tokens may authenticate. */
  count(): Promise<number>;
  /** Every token that may authenticate, oldest first. */
  all(): Promise<string[]>;
  /** The tokens that may authenticate and whose grant names `user`. */
  userTokens(user: string): Promise<string[]>;
  /** Calls `listener` for every revocation from now on. */
  onRevoke(listener: RevocationListener): void;
  /** Whether `token`, which a `lookup` found valid, has been revoked since, as far as this node
   * has heard: a check still in flight when a revocation came must not let it in. */
  wasRevoked(token: string): boolean;
  /** Forgets the tokens that have expired (they are refused either way). */
  sweepExpired(): Promise<void>;
}
