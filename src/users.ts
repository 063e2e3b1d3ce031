/**
 * @module
 * Stopping a user: closing every connection whose token names them (4005 `disconnected`), and
 * blocking them, so that no token naming them authenticates until the block ends. The local one
 * is a standalone server's: its hub, and blocks kept by the token store. Knows nothing of HTTP
 * or of how tokens are checked.
 */

import { type Block, isBlockOver } from "./blocks.ts";
import type { Hub } from "./hub.ts";
import { CLOSE } from "./protocol.ts";
import type { BlockJournal } from "./token_journal.ts";

/** Whether a user may authenticate. */
export interface BlockCheck {
  /** `user`'s block, or null when they are not blocked (never blocked, lifted, or over).
   * Rejects with `ClusterUnavailableError` when the blocks cannot be read. */
  blockOf(user: string): Promise<Block | null>;
}

/** Stopping users on every node. Every method rejects with `ClusterUnavailableError` when the
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

/** The users of a standalone server: its hub's connections, and blocks kept in memory and,
 * with a token store, in its journal. */
export class LocalUsers implements UserControl {
  readonly #hub: Hub;
  readonly #journal: BlockJournal | undefined;
  readonly #blocks: Map<string, Block>;

  /** Starts with the blocks `initial` holds (the token store's at startup). */
  constructor(
    hub: Hub,
    { journal, initial = new Map() }: {
      journal?: BlockJournal | undefined;
      initial?: ReadonlyMap<string, Block> | undefined;
    } = {},
  ) {
    this.#hub = hub;
    this.#journal = journal;
    this.#blocks = new Map(initial);
  }

  disconnect(user: string): Promise<number> {
    const { code, reason } = CLOSE.disconnected;
    return Promise.resolve(this.#hub.disconnectUser(user, code, reason));
  }

  async block(user: string, block: Block): Promise<number> {
    await this.#journal?.appendBlock(user, block);
    this.#dropOver();
    this.#blocks.set(user, block);
    return await this.disconnect(user);
  }

  async unblock(user: string): Promise<boolean> {
    const wasBlocked = this.#current(user) !== null;
    if (this.#blocks.has(user)) {
      await this.#journal?.appendBlock(user, null);
      this.#blocks.delete(user);
    }
    return wasBlocked;
  }

  blockOf(user: string): Promise<Block | null> {
    return Promise.resolve(this.#current(user));
  }

  #current(user: string): Block | null {
    const block = this.#blocks.get(user);
    if (block === undefined) return null;
    if (!isBlockOver(block)) return block;
    this.#blocks.delete(user);
    return null;
  }

  /** Forgets the blocks that are over, so that they cannot pile up unread. */
  #dropOver(): void {
    const now = Date.now() / 1000;
    for (const [user, block] of this.#blocks) {
      if (isBlockOver(block, now)) this.#blocks.delete(user);
    }
  }
}
