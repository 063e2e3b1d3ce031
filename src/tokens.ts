/**
 * @module
 * Authentication tokens: minting new ones, the store of those that may authenticate, and the
 * short fingerprint that names a token in logs. Knows nothing of connections; the hub tracks
 * which tokens are in use.
 */

import { createHash } from "node:crypto";
import { isExpired, OPEN_GRANT, type TokenGrant } from "./grants.ts";
import type { TokenJournal } from "./token_journal.ts";

/** How many random characters a minted token has before its `-<unix seconds>` suffix. */
export const TOKEN_RANDOM_LENGTH = 128;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
// The largest multiple of the alphabet's size that fits in a byte: bytes at or above it are
// redrawn, so that `byte % 62` is uniform (no modulo bias).
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** Returns a new token: 128 characters from `[A-Za-z0-9]` drawn from `crypto.getRandomValues`
 * without modulo bias, then `-` and the Unix time in seconds at `now` (milliseconds). */
export function mintToken(now: number = Date.now()): string {
  const chars: string[] = [];
  const bytes = new Uint8Array(TOKEN_RANDOM_LENGTH * 2);
  while (chars.length < TOKEN_RANDOM_LENGTH) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      if (byte >= UNBIASED_LIMIT) continue;
      chars.push(ALPHABET[byte % ALPHABET.length]!);
      if (chars.length === TOKEN_RANDOM_LENGTH) break;
    }
  }
  return `${chars.join("")}-${Math.floor(now / 1000)}`;
}

/** Names `token` in logs without revealing it: the first 12 hex digits of its SHA-256. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}

/** How many mints pass between two sweeps of a standalone store's expired tokens. */
const SWEEP_EVERY_MINTS = 1000;

/** Called with each token revoked, on every node, once it no longer authenticates. */
export type RevocationListener = (token: string) => void;

/** The tokens that may authenticate, wherever they are kept: this process (`TokenStore`) or
 * the cluster's Redis, each with what it grants. Every method rejects with
 * `ClusterUnavailableError` when the tokens cannot be reached, and then nothing changed. */
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

/** The tokens that may authenticate a connection, in the order they were added, with their
 * grants. With a journal, every change through `mint` and `revoke` is durable before it
 * resolves. Expired tokens are dropped when they are next listed or counted. */
export class TokenStore implements TokenRegistry {
  readonly #listeners: RevocationListener[] = [];
  readonly #tokens: Map<string, TokenGrant>;
  #mints = 0;
  readonly #journal: TokenJournal | undefined;

  /** Starts with `initial`, e.g. the tokens a provider and the journal held at startup, each
   * granting what `grants` says (default: every channel, forever). */
  constructor(
    initial: Iterable<string> = [],
    journal?: TokenJournal,
    grants: ReadonlyMap<string, TokenGrant> = new Map(),
  ) {
    this.#tokens = new Map([...initial].map((token) => [token, grants.get(token) ?? OPEN_GRANT]));
    this.#journal = journal;
  }

  /** Mints a new token, makes it durable, adds it and returns it. */
  async mint(grant: TokenGrant = OPEN_GRANT): Promise<string> {
    // Expired tokens go as new ones come, so that they cannot pile up unlisted.
    if (++this.#mints % SWEEP_EVERY_MINTS === 0) this.#dropExpired();
    const token = mintToken();
    await this.#journal?.append("add", token, grant);
    this.#tokens.set(token, grant);
    return token;
  }

  /** Whether `token` may authenticate. An exact-match lookup: minted tokens carry 762 bits of
   * randomness, so its timing cannot help guess one. */
  has(token: string): boolean {
    const grant = this.#tokens.get(token);
    return grant !== undefined && !isExpired(grant);
  }

  lookup(token: string): Promise<TokenGrant | null> {
    const grant = this.#tokens.get(token);
    if (grant !== undefined && isExpired(grant)) this.#tokens.delete(token);
    return Promise.resolve(grant === undefined || isExpired(grant) ? null : grant);
  }

  sweepExpired(): Promise<void> {
    this.#dropExpired();
    return Promise.resolve();
  }

  /** Makes the removal of `token` durable, then removes it and tells the revocation
   * listeners (also when it was not stored: its connections still close); resolves to whether
   * it was there. When the journal cannot be written, it rejects and nothing changes. */
  async revoke(token: string): Promise<boolean> {
    const wasStored = this.has(token);
    if (this.#tokens.has(token)) {
      await this.#journal?.append("revoke", token);
      this.#tokens.delete(token);
    }
    for (const listener of this.#listeners) listener(token);
    return wasStored;
  }

  isValid(token: string): Promise<boolean> {
    return Promise.resolve(this.has(token));
  }

  count(): Promise<number> {
    return Promise.resolve(this.size);
  }

  all(): Promise<string[]> {
    return Promise.resolve(this.list());
  }

  userTokens(user: string): Promise<string[]> {
    const now = Date.now() / 1000;
    const tokens: string[] = [];
    for (const [token, grant] of this.#tokens) {
      if (grant.user === user && !isExpired(grant, now)) tokens.push(token);
    }
    return Promise.resolve(tokens);
  }

  onRevoke(listener: RevocationListener): void {
    this.#listeners.push(listener);
  }

  wasRevoked(token: string): boolean {
    return !this.#tokens.has(token);
  }

  /** How many tokens may authenticate. */
  get size(): number {
    this.#dropExpired();
    return this.#tokens.size;
  }

  /** Every token that may authenticate, oldest first. */
  list(): string[] {
    this.#dropExpired();
    return [...this.#tokens.keys()];
  }

  #dropExpired(): void {
    const now = Date.now() / 1000;
    for (const [token, grant] of this.#tokens) {
      if (isExpired(grant, now)) this.#tokens.delete(token);
    }
  }
}
