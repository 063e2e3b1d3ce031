/**
 * @module
 * A standalone server's tokens, in memory and, with a token store, in its journal.
 */

import { isExpired, OPEN_GRANT, type TokenGrant } from "../grants.ts";
import type { TokenJournal } from "../token_journal.ts";
import { mintToken } from "../tokens.ts";
import type { RevocationListener, TokenRegistry } from "./tokens.ts";

/** How many mints pass between two sweeps of a standalone store's expired tokens. */
const SWEEP_EVERY_MINTS = 1000;

/** The tokens that may authenticate a connection, in the order they were added, with their
 * grants. With a journal, every change through `mint` and `revoke` is durable before it
 * resolves. Expired tokens are dropped when they are next listed or counted. */
export class MemoryTokens implements TokenRegistry {
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
