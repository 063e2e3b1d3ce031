/**
 * @module
 * The cluster's tokens, kept in Redis: minted on any node, valid on every node as soon as the
 * mint has answered. A revocation is one script (remove, remember, announce), so no node can
 * see the token valid after the announcement. Provider tokens (`--tokens-file`, `--tokens-url`)
 * join at startup, except those the cluster has revoked.
 */

import type { Logger } from "../log.ts";
import { decodeGrant, encodeGrant, isExpired, OPEN_GRANT, type TokenGrant } from "../grants.ts";
import { mintToken } from "../tokens.ts";
import { type RevocationListener, type TokenRegistry } from "./tokens.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { migrateTokenKeys } from "./redis_key_migration.ts";
import { RedisScript } from "./redis_script.ts";
import TOKENS_UNINDEX_LUA from "./lua/tokens_unindex.lua" with { type: "text" };
import TOKENS_REVOKE_LUA from "./lua/tokens_revoke.lua" with { type: "text" };
import TOKENS_PROVIDE_LUA from "./lua/tokens_provide.lua" with { type: "text" };
import TOKENS_VALID_LUA from "./lua/tokens_valid.lua" with { type: "text" };

const REVOKE_SCRIPT = new RedisScript(TOKENS_UNINDEX_LUA, TOKENS_REVOKE_LUA);

const PROVIDE_SCRIPT = new RedisScript(TOKENS_PROVIDE_LUA);

const VALID_SCRIPT = new RedisScript(TOKENS_UNINDEX_LUA, TOKENS_VALID_LUA);

/** How long a revoked minted token is remembered, so that a node which missed the revocation
 * while cut off from Redis still closes its connections when it is back. */
const REMEMBER_REVOKED_MS = 24 * 60 * 60 * 1000;

const PROVIDE_BATCH = 1000;

/** How long a revocation heard from another node overrides a token check still in flight. */
const RECENT_REVOCATION_MS = 10_000;

/** Tokens shared by every node through Redis. */
export class RedisTokenRegistry implements TokenRegistry {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #listeners: RevocationListener[] = [];
  // Revocations heard in the last few seconds, by when: a check whose answer comes after the
  // announcement (they travel on different connections) must not let the token in.
  readonly #recentlyRevoked = new Map<string, number>();

  constructor(link: RedisLink, keys: RedisKeys) {
    this.#link = link;
    this.#keys = keys;
    link.subscribe([keys.revocations]);
    link.onMessage((channel, token) => {
      if (channel !== keys.revocations) return;
      this.#remember(token);
      for (const listener of this.#listeners) listener(token);
    });
  }

  async mint(grant: TokenGrant = OPEN_GRANT): Promise<string> {
    const token = mintToken();
    const keys = this.#keys;
    await this.#link.run(async (redis) => {
      // Every token's grant is written, the open one too: a token without one is refused. The
      // score has a fraction of a millisecond, so that tokens minted one after another on a
      // node list in that order (whole milliseconds would sort a millisecond's by their text).
      const score = performance.timeOrigin + performance.now();
      const multi = redis.multi().zAdd(keys.tokens, { score, value: token })
        .hSet(keys.tokenGrants, token, encodeGrant(grant));
      if (grant.expiresAt !== null) {
        multi.zAdd(keys.expiringTokens, { score: grant.expiresAt, value: token });
      }
      if (grant.user !== null) multi.sAdd(keys.userTokens(grant.user), token);
      await multi.exec();
    }, { key: keys.tokens, replicated: true });
    return token;
  }

  async lookup(token: string): Promise<TokenGrant | null> {
    const keys = this.#keys;
    const [score, encoded] = await this.#link.run(
      (redis) => redis.multi().zScore(keys.tokens, token).hGet(keys.tokenGrants, token).exec(),
      { key: keys.tokens },
    ) as unknown as [number | null, string | null];
    if (score === null || encoded === null || this.#recentlyRevoked.has(token)) return null;
    const grant = decodeGrant(encoded);
    return grant === null || isExpired(grant) ? null : grant;
  }

  wasRevoked(token: string): boolean {
    return this.#recentlyRevoked.has(token);
  }

  async isValid(token: string): Promise<boolean> {
    return await this.lookup(token) !== null;
  }

  async revoke(token: string): Promise<boolean> {
    const keys = this.#keys;
    const removed = await this.#link.run((redis) =>
      REVOKE_SCRIPT.run(redis, [
        keys.tokens,
        keys.providedTokens,
        keys.revokedTokens,
        keys.tokenGrants,
        keys.expiringTokens,
      ], [
        token,
        Date.now(),
        REMEMBER_REVOKED_MS,
        keys.revocations,
        ...keys.userTokensAround,
        this.#link.publishCommand,
      ]), { key: keys.tokens, replicated: true });
    return removed === 1;
  }

  async sweepExpired(): Promise<void> {
    await this.#valid("count");
  }

  async count(): Promise<number> {
    return await this.#valid("count") as number;
  }

  async all(): Promise<string[]> {
    return await this.#valid("list") as string[];
  }

  async userTokens(user: string): Promise<string[]> {
    const keys = this.#keys;
    const index = keys.userTokens(user);
    return await this.#link.run(async (redis) => {
      const listed = await redis.sMembers(index);
      if (listed.length === 0) return [];
      const [scores, grants] = await redis.multi().zmScore(keys.tokens, listed)
        .hmGet(keys.tokenGrants, listed).exec() as unknown as [
          Array<number | null>,
          Array<string | null>,
        ];
      const now = Date.now() / 1000;
      const valid: string[] = [];
      const gone: string[] = [];
      for (const [i, token] of listed.entries()) {
        const encoded = grants[i] ?? null;
        const grant = encoded === null ? null : decodeGrant(encoded);
        const isStored = (scores[i] ?? null) !== null;
        if (!isStored) gone.push(token);
        else if (grant?.user === user && !isExpired(grant, now)) valid.push(token);
      }
      // Revocations and sweeps remove their own; this keeps the set clean whatever else
      // removed a token.
      if (gone.length > 0) await redis.sRem(index, gone);
      return valid;
    }, { key: index });
  }

  #valid(answer: "count" | "list"): Promise<unknown> {
    const keys = this.#keys;
    return this.#link.run(
      (redis) =>
        VALID_SCRIPT.run(redis, [keys.tokens, keys.tokenGrants, keys.expiringTokens], [
          Math.floor(Date.now() / 1000),
          answer,
          ...keys.userTokensAround,
        ]),
      { key: keys.tokens },
    );
  }

  #remember(token: string): void {
    const now = Date.now();
    for (const [old, at] of this.#recentlyRevoked) {
      if (now - at < RECENT_REVOCATION_MS) break;
      this.#recentlyRevoked.delete(old);
    }
    this.#recentlyRevoked.set(token, now);
  }

  onRevoke(listener: RevocationListener): void {
    this.#listeners.push(listener);
  }

  /** Adds provider tokens the cluster has not revoked; resolves to how many were new or
   * already there. */
  async provide(tokens: readonly string[]): Promise<number> {
    const keys = this.#keys;
    let added = 0;
    for (let i = 0; i < tokens.length; i += PROVIDE_BATCH) {
      const batch = tokens.slice(i, i + PROVIDE_BATCH);
      added += Number(
        await this.#link.run((redis) =>
          PROVIDE_SCRIPT.run(redis, [
            keys.tokens,
            keys.providedTokens,
            keys.revokedTokens,
            keys.tokenGrants,
          ], [Date.now(), encodeGrant(OPEN_GRANT), ...batch]), { key: keys.tokens }),
      );
    }
    return added;
  }

  /** Runs the revocation listeners for those of `tokens` the cluster has revoked: a node
   * that was cut off from Redis missed their announcements. */
  async replayMissed(tokens: readonly string[]): Promise<void> {
    if (tokens.length === 0) return;
    const key = this.#keys.revokedTokens;
    const scores = await this.#link.run((redis) => redis.zmScore(key, [...tokens]), { key });
    for (const [i, token] of tokens.entries()) {
      if (scores[i] === null) continue;
      for (const listener of this.#listeners) listener(token);
    }
  }
}

/** Each time Redis answers: first renames what Boreas 0.1 left (`migrateTokenKeys`), then loads
 * the provider's tokens into the cluster, retrying on each reconnect until that has worked
 * once. */
export function provideOnConnect(
  registry: RedisTokenRegistry,
  link: RedisLink,
  { keys, tokens, logger }: { keys: RedisKeys; tokens: readonly string[]; logger: Logger },
): void {
  let isProvided = tokens.length === 0;
  const onReady = async () => {
    // Boreas 0.1 never ran on Redis Cluster: nothing to rename there.
    const renamed = keys.isSharded ? 0 : await link.run((redis) => migrateTokenKeys(redis, keys));
    if (renamed > 0) logger.info("renamed the keys of Boreas 0.1", { keys: renamed });
    if (isProvided) return;
    const added = await registry.provide(tokens);
    isProvided = true;
    logger.info("provider tokens joined the cluster", {
      tokens: tokens.length,
      refusedAsRevoked: tokens.length - added,
    });
  };
  link.onReady(onReady);
  if (link.isReady) onReady().catch(() => {});
}
