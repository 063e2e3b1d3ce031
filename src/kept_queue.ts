/**
 * @module
 * Every kept message of every channel in the order it was kept, with what they cost together,
 * so that `--history-max-bytes` can drop the oldest first and expiry can start from the oldest.
 * Pure bookkeeping: the owner removes what it takes from its own per-channel lists.
 */

/** What a kept message is counted as besides its payload: what the in-memory history measured
 * per message (`bench/history_memory.ts`). */
export const KEPT_MESSAGE_OVERHEAD_BYTES = 140;

/** What keeping `payload` (JSON text) costs against `--history-max-bytes`. */
export function keptCost(payload: string): number {
  return payload.length + KEPT_MESSAGE_OVERHEAD_BYTES;
}

/** One queued message. `isDropped` belongs to the queue: set once it no longer counts. */
export interface Queued {
  readonly cost: number;
  isDropped: boolean;
}

/** Once this many slots are dead, the queue's array is compacted (when they are most of it). */
const COMPACT_AFTER = 1024;

/** Messages oldest first, with their total cost. */
export class KeptQueue<T extends Queued> {
  #items: T[] = [];
  #head = 0;
  #dead = 0;
  #bytes = 0;

  /** What the queued messages cost together. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `item` as the newest. */
  push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.cost;
  }

  /** Stops counting `item`, dropped elsewhere (a channel's own limit): it keeps its slot until
   * the slots are compacted. */
  drop(item: T): void {
    if (item.isDropped) return;
    item.isDropped = true;
    this.#bytes -= item.cost;
    this.#dead++;
    this.#compact();
  }

  /** The oldest counted item, left in place. */
  peek(): T | undefined {
    const items = this.#items;
    while (this.#head < items.length && items[this.#head]!.isDropped) {
      this.#head++;
      this.#dead--;
    }
    return items[this.#head];
  }

  /** Takes the oldest counted item out. */
  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    item.isDropped = true;
    this.#bytes -= item.cost;
    this.#head++;
    this.#compact();
    return item;
  }

  // Dropped items would keep their payloads alive: the array is rebuilt once they are most of it.
  #compact(): void {
    const slots = this.#items.length;
    if (this.#head + this.#dead < COMPACT_AFTER || (this.#head + this.#dead) * 2 < slots) return;
    this.#items = this.#items.slice(this.#head).filter((item) => !item.isDropped);
    this.#head = 0;
    this.#dead = 0;
  }
}
