/**
 * @module
 * Authentication tokens: minting new ones, the store of those that may authenticate, and the
 * short fingerprint that names a token in logs. Knows nothing of connections; the hub tracks
 * which tokens are in use.
 */

import { createHash } from "node:crypto";
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

/** Called with each token revoked, on every node, once it no longer authenticates. */
export type RevocationListener = (token: string) => void;

/** The tokens that may authenticate, wherever they are kept: this process (`TokenStore`) or
 * the cluster's Redis. Every method rejects with `ClusterUnavailableError` when the tokens
 * cannot be reached, and then nothing changed. */
export interface TokenRegistry {
  /** Mints a token, stores it so that every node accepts it, and returns it. */
  mint(): Promise<string>;
  /** Whether `token` may authenticate now. */
  isValid(token: string): Promise<boolean>;
  /** Makes `token` refused everywhere; resolves to whether it was valid. The revocation
   * listeners then run on every node, whether it was valid or not. */
  revoke(token: string): Promise<boolean>;
  /** How many tokens may authenticate. */
  count(): Promise<number>;
  /** Every token that may authenticate, oldest first. */
  all(): Promise<string[]>;
  /** Calls `listener` for every revocation from now on. */
  onRevoke(listener: RevocationListener): void;
}

/** The tokens that may authenticate a connection, in the order they were added. With a
 * journal, every change through `mint` and `revoke` is durable before it resolves. */
export class TokenStore implements TokenRegistry {
  readonly #listeners: RevocationListener[] = [];
  readonly #tokens: Set<string>;
  readonly #journal: TokenJournal | undefined;

  /** Starts with `initial`, e.g. the tokens a provider and the journal held at startup. */
  constructor(initial: Iterable<string> = [], journal?: TokenJournal) {
    this.#tokens = new Set(initial);
    this.#journal = journal;
  }

  /** Mints a new token, makes it durable, adds it and returns it. */
  async mint(): Promise<string> {
    const token = mintToken();
    await this.#journal?.append("add", token);
    this.#tokens.add(token);
    return token;
  }

  /** Whether `token` may authenticate. An exact-match lookup: minted tokens carry 762 bits of
   * randomness, so its timing cannot help guess one. */
  has(token: string): boolean {
    return this.#tokens.has(token);
  }

  /** Makes the removal of `token` durable, then removes it and tells the revocation
   * listeners (also when it was not stored: its connections still close); resolves to whether
   * it was there. When the journal cannot be written, it rejects and nothing changes. */
  async revoke(token: string): Promise<boolean> {
    const wasStored = this.#tokens.has(token);
    if (wasStored) {
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

  onRevoke(listener: RevocationListener): void {
    this.#listeners.push(listener);
  }

  /** How many tokens there are. */
  get size(): number {
    return this.#tokens.size;
  }

  /** Every token, oldest first. */
  list(): string[] {
    return [...this.#tokens];
  }
}
