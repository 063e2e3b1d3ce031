/**
 * @module
 * Channel history in memory, a standalone server's. A channel's history is freed when its last
 * message is gone and no subscriber is left, and lost with the process. A channel keeps state
 * only while it has subscribers or kept messages. Knows nothing of connections or HTTP.
 */

import { epochStart, followsWithin, newEpoch } from "../epoch.ts";
import { keptCost, KeptQueue, type Queued } from "../kept_queue.ts";
import type { History, HistoryPage, KeptMessage, Position, Resume } from "./history.ts";

/** Options of `MemoryHistory`. */
export interface HistoryOptions {
  /** Messages kept per channel (the oldest go first). At least 1. */
  readonly size: number;
  /** Milliseconds a message is kept. */
  readonly ttlMs: number;
  /** What all channels' kept messages may cost together (`keptCost`); past it the oldest go
   * first. Default: no bound. */
  readonly maxBytes?: number;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** How often expired messages are dropped when nothing else does it, in milliseconds.
   * Default: a quarter of the ttl, between 1 and 60 seconds. */
  readonly sweepIntervalMs?: number;
  /** Whether `channel` has subscribers: its epoch and offsets then outlive its messages, so
   * that connected subscribers never see offsets start again. Default: never. */
  readonly hasSubscribers?: (channel: string) => boolean;
}

interface Entry extends KeptMessage, Queued {
  readonly channel: string;
  /** When it was kept (ms). */
  readonly at: number;
}

interface Stream {
  readonly epoch: string;
  top: number;
  /** Oldest first; offsets `top - entries.length + 1` to `top`. */
  readonly entries: Entry[];
}

/** Every channel's recent messages, bounded by `size` per channel, by `ttlMs`, and by
 * `maxBytes` for all of them. */
export class MemoryHistory implements History, Disposable {
  readonly #streams = new Map<string, Stream>();
  readonly #queue = new KeptQueue<Entry>();
  readonly #size: number;
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #hasSubscribers: (channel: string) => boolean;
  readonly #timer: ReturnType<typeof setInterval>;
  /** When the newest message dropped for `maxBytes` was kept: a channel's state may be gone
   * with it, so positions from before then cannot be resumed from offset 0. */
  #evictedUntil = -Infinity;
  /** When this history began: positions from an earlier one (a restart) lost everything. */
  readonly #began: number;

  constructor(options: HistoryOptions) {
    if (!(options.size >= 1)) throw new RangeError("history size must be at least 1");
    this.#size = options.size;
    this.#ttlMs = options.ttlMs;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#now = options.now ?? Date.now;
    this.#hasSubscribers = options.hasSubscribers ?? (() => false);
    this.#began = this.#now();
    const sweep = options.sweepIntervalMs ?? Math.min(60_000, Math.max(1_000, options.ttlMs / 4));
    this.#timer = setInterval(() => this.sweep(), sweep);
    Deno.unrefTimer(this.#timer);
  }

  /** Keeps `payload` (JSON text), published by `user` if a client did, as `channel`'s next
   * message; returns its position. */
  append(channel: string, payload: string, user: string | null = null): Position {
    const now = this.#expire();
    let stream = this.#streams.get(channel);
    if (stream === undefined) {
      stream = { epoch: newEpoch(now), top: 0, entries: [] };
      this.#streams.set(channel, stream);
    }
    stream.top++;
    const entry: Entry = {
      channel,
      offset: stream.top,
      payload,
      ...(user === null ? {} : { user }),
      at: now,
      cost: keptCost(payload) + (user?.length ?? 0),
      isDropped: false,
    };
    stream.entries.push(entry);
    this.#queue.push(entry);
    if (stream.entries.length > this.#size) this.#queue.drop(stream.entries.shift()!);
    const position = { offset: stream.top, epoch: stream.epoch };
    while (this.#queue.bytes > this.#maxBytes) {
      const oldest = this.#queue.shift()!;
      this.#evictedUntil = Math.max(this.#evictedUntil, oldest.at);
      this.#remove(oldest);
    }
    return position;
  }

  /** Where `channel` stands now. A channel without history has offset 0 and a new epoch, kept
   * (for its first message to carry) only while the channel has subscribers. */
  position(channel: string): Position {
    const now = this.#expire();
    let stream = this.#streams.get(channel);
    if (stream === undefined) {
      const epoch = newEpoch(now);
      if (!this.#hasSubscribers(channel)) return { offset: 0, epoch };
      stream = { epoch, top: 0, entries: [] };
      this.#streams.set(channel, stream);
    }
    return { offset: stream.top, epoch: stream.epoch };
  }

  /** The messages after `since`, oldest first, when every one of them is still kept; null when
   * the epoch differs, `since` is ahead of the channel, or some message after it is gone (size,
   * ttl or max bytes). A position at offset 0 of an epoch no longer kept resumes when nothing
   * published since that epoch began can have been lost (`followsWithin`, and the epoch began
   * after this history did and after the newest message dropped for `maxBytes`). */
  after(channel: string, since: Position): KeptMessage[] | null {
    const now = this.#expire();
    const stream = this.#streams.get(channel);
    if (stream !== undefined && since.epoch === stream.epoch) {
      const missing = stream.top - since.offset;
      if (missing < 0 || missing > stream.entries.length) return null;
      return copies(stream.entries.slice(stream.entries.length - missing));
    }
    const start = epochStart(since.epoch);
    // An epoch of the millisecond this history began may be an earlier process's.
    if (since.offset !== 0 || start === null || start <= this.#began) return null;
    if (start <= this.#evictedUntil) return null;
    const ttlMs = this.#ttlMs;
    if (!followsWithin(since.epoch, stream?.epoch ?? null, { now, ttlMs })) return null;
    if (stream === undefined) return [];
    return stream.top === stream.entries.length ? copies(stream.entries) : null;
  }

  resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume> {
    const states = new Map<string, Position & { recovered?: boolean }>();
    const replay: Array<[string, KeptMessage]> = [];
    for (const channel of join) {
      if (states.has(channel)) continue;
      const asked = since?.get(channel);
      const kept = asked === undefined ? null : this.after(channel, asked);
      const position = this.position(channel);
      states.set(
        channel,
        asked === undefined ? position : { recovered: kept !== null, ...position },
      );
      for (const message of kept ?? []) replay.push([channel, message]);
    }
    return Promise.resolve({ states, replay });
  }

  read(channel: string, since: number, limit: number): Promise<HistoryPage> {
    return Promise.resolve(this.list(channel, since, limit));
  }

  /** Up to `limit` kept messages with offsets above `since`, oldest first, with the position. */
  list(channel: string, since: number, limit: number): Position & { messages: KeptMessage[] } {
    const now = this.#expire();
    const stream = this.#streams.get(channel);
    if (stream === undefined) return { offset: 0, epoch: newEpoch(now), messages: [] };
    const first = stream.top - stream.entries.length + 1;
    const start = Math.max(0, since + 1 - first);
    const messages = copies(stream.entries.slice(start, start + limit));
    return { offset: stream.top, epoch: stream.epoch, messages };
  }

  /** Forgets `channel`'s epoch when it keeps no message: call once its last subscriber left. */
  release(channel: string): void {
    const stream = this.#streams.get(channel);
    if (stream?.entries.length === 0 && !this.#hasSubscribers(channel)) {
      this.#streams.delete(channel);
    }
  }

  /** How many channels have state (kept messages, or subscribers and an epoch). */
  get channelCount(): number {
    return this.#streams.size;
  }

  /** What the kept messages cost together (`keptCost`). */
  get keptBytes(): number {
    return this.#queue.bytes;
  }

  /** Drops expired messages everywhere and frees the channels left with no message and no
   * subscriber. */
  sweep(): void {
    this.#expire();
    for (const channel of this.#streams.keys()) this.release(channel);
  }

  /** Drops the messages whose ttl is over, oldest first; returns the time. */
  #expire(): number {
    const now = this.#now();
    for (let oldest = this.#queue.peek(); oldest !== undefined; oldest = this.#queue.peek()) {
      if (oldest.at + this.#ttlMs > now) break;
      this.#queue.shift();
      this.#remove(oldest);
    }
    return now;
  }

  /** Takes `entry`, the oldest of its channel, out of its stream, freeing the stream when
   * nothing is left to keep. */
  #remove(entry: Entry): void {
    const stream = this.#streams.get(entry.channel);
    if (stream?.entries[0] !== entry) return;
    stream.entries.shift();
    if (stream.entries.length === 0) this.release(entry.channel);
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}

/** The kept messages as plain `{offset, payload, user?}`, without the bookkeeping. */
function copies(entries: readonly Entry[]): KeptMessage[] {
  return entries.map(({ offset, payload, user }) =>
    user === undefined ? { offset, payload } : { offset, payload, user }
  );
}
