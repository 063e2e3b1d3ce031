/**
 * @module
 * The users of a standalone server: its hub, and blocks kept by the token store.
 */

import { type Block, isBlockOver } from "../blocks.ts";
import type { Hub } from "../hub.ts";
import { CLOSE } from "../protocol.ts";
import type { BlockJournal } from "../token_journal.ts";
import type { UserControl } from "./users.ts";

/** The users of a standalone server: its hub's connections, and blocks kept in memory and,
 * with a token store, in its journal. */
export class MemoryUsers implements UserControl {
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
