/**
 * @module
 * Stopping users across a cluster. A block is one Redis key per user, expiring with the block;
 * closing a user's connections is an announcement on pub/sub that every node acts on (the one
 * that makes it acts at once). A node cut off from the announcements closes its blocked users'
 * connections when it hears again (`replayMissed`).
 */

import { type Block, decodeBlock, encodeBlock, isBlockOver } from "../blocks.ts";
import type { Hub } from "../hub.ts";
import { CLOSE } from "../protocol.ts";
import type { UserControl } from "./users.ts";
import type { RedisKeys } from "./keys.ts";
import type { Membership } from "./membership.ts";
import type { RedisClient, RedisLink } from "./redis_link.ts";

/** What goes out on `RedisKeys.userChanges`: close a user's connections, and, for a block, what
 * it is; or a block lifted. */
type Announcement =
  | { readonly disconnect: string }
  | { readonly block: string; readonly "expires_at": number | null }
  | { readonly unblock: string };

/** How many users' blocks one `replayMissed` command reads. */
const REPLAY_BATCH = 1000;

/** Users stopped through Redis, on every node. */
export class RedisUsers implements UserControl {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #hub: Hub;
  readonly #membership: Membership;
  // The checks waiting for Redis, by user. An answer and an announcement travel on different
  // connections: a check answered "not blocked" after this node heard the user blocked must
  // not let them in, so what is heard meanwhile overrides the answer.
  readonly #checks = new Map<string, Set<{ heard: Block | null | undefined }>>();

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, membership }: { hub: Hub; membership: Membership },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#hub = hub;
    this.#membership = membership;
    link.subscribe([keys.userChanges]);
    link.onMessage((channel, message) => {
      if (channel === keys.userChanges) this.#heard(message);
    });
  }

  async disconnect(user: string): Promise<number> {
    return await this.#closeEverywhere(user, { disconnect: user });
  }

  async block(user: string, block: Block): Promise<number> {
    return await this.#closeEverywhere(user, { block: user, "expires_at": block.expiresAt }, block);
  }

  async unblock(user: string): Promise<boolean> {
    const keys = this.#keys;
    const announcement: Announcement = { unblock: user };
    const [stored] = await this.#link.run((redis) => {
      const multi = redis.multi().get(keys.userBlock(user)).del(keys.userBlock(user));
      this.#announce(multi, announcement);
      return multi.exec();
    }, { key: keys.userChanges }) as unknown as [string | null, number, number];
    // A block whose time is over is no block, by this node's clock as for `blockOf`, whether
    // or not Redis has expired its key yet (it expires it a moment after its second).
    const block = stored === null ? null : decodeBlock(stored);
    return block !== null && !isBlockOver(block);
  }

  async blockOf(user: string): Promise<Block | null> {
    const check: { heard: Block | null | undefined } = { heard: undefined };
    const checks = this.#checks.get(user) ?? new Set();
    this.#checks.set(user, checks.add(check));
    let stored: string | null;
    try {
      const key = this.#keys.userBlock(user);
      stored = await this.#link.run((redis) => redis.get(key), { key });
    } finally {
      checks.delete(check);
      if (checks.size === 0) this.#checks.delete(user);
    }
    const answered = stored === null ? null : decodeBlock(stored);
    const block = check.heard === undefined ? answered : check.heard;
    return block === null || isBlockOver(block) ? null : block;
  }

  /** Closes the connections of the users on this node whom the cluster has blocked: a node
   * that was cut off from Redis missed their announcements. */
  async replayMissed(): Promise<void> {
    const users = this.#hub.activeUsers();
    for (let i = 0; i < users.length; i += REPLAY_BATCH) {
      const batch = users.slice(i, i + REPLAY_BATCH);
      // Every block is in the `{users}` slot: one read.
      const blocks = await this.#link.run(
        (redis) => redis.mGet(batch.map((user) => this.#keys.userBlock(user))),
        { key: this.#keys.userChanges },
      );
      for (const [j, user] of batch.entries()) {
        if (blocks[j] !== null) this.#closeHere(user);
      }
    }
  }

  /** Adds the publishing of `announcement` to every node to `multi` (in the blocks' slot). */
  #announce(multi: ReturnType<RedisClient["multi"]>, announcement: Announcement): void {
    const message = JSON.stringify(announcement);
    if (this.#link.publishCommand === "SPUBLISH") multi.sPublish(this.#keys.userChanges, message);
    else multi.publish(this.#keys.userChanges, message);
  }

  /** Counts `user`'s connections, writes `block` (if any) and announces, then closes this
   * node's at once; resolves to how many were open. */
  async #closeEverywhere(user: string, announcement: Announcement, block?: Block): Promise<number> {
    const keys = this.#keys;
    // Counted before the announcement: once it is out, the other nodes' connections go.
    const everywhere = await this.#membership.userConnections(user);
    await this.#link.run(async (redis) => {
      const multi = redis.multi();
      if (block !== undefined) {
        const key = keys.userBlock(user);
        // The key expires with the block, so that nothing has to end it.
        const expiration = block.expiresAt === null
          ? {}
          : { expiration: { type: "EXAT", value: block.expiresAt } as const };
        multi.set(key, encodeBlock(block), expiration);
      }
      this.#announce(multi, announcement);
      await multi.exec();
    }, { key: keys.userChanges });
    this.#closeHere(user);
    return everywhere;
  }

  #heard(message: string): void {
    let announcement: Record<string, unknown>;
    try {
      announcement = JSON.parse(message);
    } catch {
      return;
    }
    const { disconnect, block, unblock, expires_at: expiresAt } = announcement;
    if (typeof unblock === "string") {
      this.#hear(unblock, null);
    } else if (typeof block === "string") {
      if (expiresAt === null || typeof expiresAt === "number") this.#hear(block, { expiresAt });
      this.#closeHere(block);
    } else if (typeof disconnect === "string") {
      this.#closeHere(disconnect);
    }
  }

  #closeHere(user: string): void {
    const { code, reason } = CLOSE.disconnected;
    this.#hub.disconnectUser(user, code, reason);
  }

  /** Tells the checks of `user` still waiting for Redis that they are now blocked (or not). */
  #hear(user: string, block: Block | null): void {
    for (const check of this.#checks.get(user) ?? []) check.heard = block;
  }
}
