/**
 * @module
 * The channels a node follows on a Redis Cluster, each subscribed (sharded) on the master that
 * serves its slot, and moved when that master changes. Knows nothing of how the slot map is read.
 */

import { slotOf } from "./redis_cluster_slots.ts";
import type { RedisLink } from "./redis_link.ts";

/** A master a channel can be subscribed on. */
export interface SubscriptionShard {
  readonly address: string;
  readonly link: Pick<RedisLink, "subscribe" | "unsubscribe">;
}

/** Where to look up who serves a slot now, and whether a master is still in use. */
export interface ShardLookup<S extends SubscriptionShard> {
  /** The master that serves `slot`, or undefined before the map is known. */
  ownerOf(slot: number): S | undefined;
  /** Whether `shard` is still one of the masters followed (else its link is gone). */
  isCurrent(shard: S): boolean;
}

/** Every channel subscribed, with the master it is subscribed on. */
export class ClusterSubscriptions<S extends SubscriptionShard> {
  readonly #lookup: ShardLookup<S>;
  /** Channel → the master it is subscribed on (undefined: none yet). */
  readonly #placed = new Map<string, S | undefined>();
  /** Each channel's slot, computed once. */
  readonly #slots = new Map<string, number>();

  constructor(lookup: ShardLookup<S>) {
    this.#lookup = lookup;
  }

  /** Whether `channel` is followed. */
  has(channel: string): boolean {
    return this.#placed.has(channel);
  }

  /** Follows `channels` too, each subscribed on its master (once the map is known). */
  async add(channels: readonly string[]): Promise<void> {
    const added = channels.filter((channel) => !this.#placed.has(channel));
    for (const channel of added) {
      this.#placed.set(channel, undefined);
      this.#slots.set(channel, slotOf(channel));
    }
    await this.place(added);
  }

  /** Stops following `channels`, unsubscribing them where they are. */
  async remove(channels: readonly string[]): Promise<void> {
    const byShard = new Map<S, string[]>();
    for (const channel of channels) {
      if (!this.#placed.has(channel)) continue;
      const shard = this.#placed.get(channel);
      this.#placed.delete(channel);
      this.#slots.delete(channel);
      if (shard !== undefined) byShard.set(shard, [...byShard.get(shard) ?? [], channel]);
    }
    await Promise.all([...byShard].map(([shard, group]) => shard.link.unsubscribe(group)));
  }

  /** Notes that `channel` is subscribed nowhere any more (its master ended it). */
  unplace(channel: string): void {
    if (this.#placed.has(channel)) this.#placed.set(channel, undefined);
  }

  /** The channels subscribed on a master that no longer serves their slot. */
  moved(): string[] {
    return [...this.#placed].filter(([channel, shard]) =>
      shard !== undefined && this.#lookup.ownerOf(this.#slotOf(channel)) !== shard
    ).map(([channel]) => channel);
  }

  /** The channels subscribed nowhere yet. */
  unplaced(): string[] {
    return [...this.#placed].filter(([, shard]) => shard === undefined).map(([channel]) => channel);
  }

  /** Subscribes each of `channels` on the master of its slot, leaving the one it was on. */
  async place(channels: readonly string[]): Promise<void> {
    const byShard = new Map<S, string[]>();
    for (const channel of channels) {
      const owner = this.#lookup.ownerOf(this.#slotOf(channel));
      const current = this.#placed.get(channel);
      if (owner === current || owner === undefined) continue;
      if (current !== undefined && this.#lookup.isCurrent(current)) {
        current.link.unsubscribe([channel]).catch(() => {});
      }
      this.#placed.set(channel, owner);
      byShard.set(owner, [...byShard.get(owner) ?? [], channel]);
    }
    await Promise.all([...byShard].map(([shard, group]) => shard.link.subscribe(group)));
  }

  #slotOf(channel: string): number {
    return this.#slots.get(channel) ?? slotOf(channel);
  }
}
