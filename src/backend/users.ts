/**
 * @module
 * Stopping a user: closing every connection whose token names them (4005 `disconnected`), and
 * blocking them, so that no token naming them authenticates until the block ends. The
 * interface every backend implements (memory_users.ts, redis_users.ts). Knows nothing of HTTP
 * or of how tokens are checked.
 */

import type { Block } from "../blocks.ts";

/** Whether a user may authenticate. */
export interface BlockCheck {
  /** `user`'s block, or null when they are not blocked (never blocked, lifted, or over).
   * Rejects with `BackendUnavailableError` when the blocks cannot be read. */
  blockOf(user: string): Promise<Block | null>;
}

/** Stopping users on every node. Every method rejects with `BackendUnavailableError` when the
 * cluster cannot be reached, and then nothing changed. */
export interface UserControl extends BlockCheck {
  /** Closes every connection of `user`, on every node, with 4005 `disconnected`. Resolves to
   * how many were open: on this node, those it closed; on the others, those the cluster's
   * membership counted (every connection whose authentication was acknowledged). */
  disconnect(user: string): Promise<number>;
  /** Blocks `user` until `block` ends, replacing any block they had, then closes their
   * connections as `disconnect` does; resolves to how many. Durable before it resolves. */
  block(user: string, block: Block): Promise<number>;
  /** Ends `user`'s block; resolves to whether they were blocked. */
  unblock(user: string): Promise<boolean>;
}
