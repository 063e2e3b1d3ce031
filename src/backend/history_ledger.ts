/**
 * @module
 * What this node has kept in Redis: each message it published, until it expires, is pushed out
 * of its channel's stream by `--history-size`, or must go to keep this node's messages within
 * `--history-max-bytes`. Redis tells no node what the others keep, so each bounds its own
 * writes. Pure bookkeeping: `RedisHistory` trims the streams.
 */

import type { Position } from "./history.ts";
import { keptCost, KeptQueue, type Queued } from "../kept_queue.ts";

interface Record extends Queued, Position {
  readonly channel: string;
  /** When it was kept, by this node's clock (ms). */
  readonly at: number;
}

/** Options of `HistoryLedger`. */
export interface HistoryLedgerOptions {
  /** Messages a channel's stream keeps (`--history-size`). */
  readonly size: number;
  /** Milliseconds a message is kept (`--history-ttl`). */
  readonly ttlMs: number;
  /** What this node's kept messages may cost together (`--history-max-bytes`). */
  readonly maxBytes: number;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: () => number;
}

/** This node's kept messages, oldest first, and per channel. */
export class HistoryLedger {
  readonly #queue = new KeptQueue<Record>();
  /** Per channel, its records still kept, oldest first, all of one epoch. */
  readonly #channels = new Map<string, Record[]>();
  readonly #options: HistoryLedgerOptions;
  readonly #now: () => number;

  constructor(options: HistoryLedgerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** What this node's kept messages cost together. */
  get bytes(): number {
    return this.#queue.bytes;
  }

  /** Notes that this node kept `payload` at `position` of `channel`. Returns what must go to
   * stay within the bound: per channel, the newest position to trim up to (that one
   * included). */
  kept(channel: string, position: Position, payload: string): Map<string, Position> {
    const { size, ttlMs, maxBytes } = this.#options;
    const now = this.#now();
    for (let oldest = this.#queue.peek(); oldest !== undefined; oldest = this.#queue.peek()) {
      if (oldest.at + ttlMs > now) break;
      this.#take(this.#queue.shift()!);
    }
    const records = this.#channels.get(channel) ?? [];
    // A new epoch started with an empty stream; the stream keeps its newest `size` messages.
    while (
      records.length > 0 &&
      (records[0]!.epoch !== position.epoch || records[0]!.offset <= position.offset - size)
    ) {
      this.#queue.drop(records.shift()!);
    }
    const { offset, epoch } = position;
    const record = { channel, offset, epoch, at: now, cost: keptCost(payload), isDropped: false };
    records.push(record);
    this.#channels.set(channel, records);
    this.#queue.push(record);
    const trims = new Map<string, Position>();
    while (this.#queue.bytes > maxBytes) {
      const oldest = this.#queue.shift()!;
      this.#take(oldest);
      trims.set(oldest.channel, { offset: oldest.offset, epoch: oldest.epoch });
    }
    return trims;
  }

  /** Takes `record`, the oldest of its channel, out of the channel's list. */
  #take(record: Record): void {
    const records = this.#channels.get(record.channel);
    if (records?.[0] !== record) return;
    records.shift();
    if (records.length === 0) this.#channels.delete(record.channel);
  }
}
