/**
 * @module
 * Channel history in memory (`--history-size`, `--history-ttl`): the last messages of each
 * channel with their offsets, and the channel's epoch. Offsets start at 1 and grow by one per
 * message; whenever a channel's history is freed (its last message expired) or lost (a restart),
 * its offsets start again at 1 under a new epoch, so an old position is never mistaken for a new
 * one. Knows nothing of connections or HTTP.
 */

/** Where a channel's stream stands: the last offset given out, within `epoch`. */
export interface Position {
  readonly offset: number;
  readonly epoch: string;
}

/** One kept message: its offset and its payload as JSON text. */
export interface KeptMessage {
  readonly offset: number;
  readonly payload: string;
}

/** What a join with history on answers and replays. */
export interface Resume {
  /** Each joined channel's state, for the reply: its position, and whether the position the
   * client named was resumed (absent when it named none). */
  readonly states: ReadonlyMap<string, Position & { readonly recovered?: boolean }>;
  /** The replayed messages, by channel, oldest first: every kept message after each recovered
   * `since`. */
  readonly replay: ReadonlyArray<readonly [channel: string, message: KeptMessage]>;
}

/** A page of a channel's kept messages, with where the channel stands. */
export interface HistoryPage extends Position {
  readonly messages: readonly KeptMessage[];
}

/** The channels' history, wherever it is kept (this process, or the cluster's Redis). Every
 * method rejects with `ClusterUnavailableError` when Redis cannot be reached. */
export interface History {
  /** Each channel of `join`'s position, and the messages after its `since` position when they
   * are all kept under the same epoch. */
  resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume>;
  /** Up to `limit` kept messages with offsets above `since`, oldest first. */
  read(channel: string, since: number, limit: number): Promise<HistoryPage>;
}

/** Options of `MemoryHistory`. */
export interface HistoryOptions {
  /** Messages kept per channel (the oldest go first). At least 1. */
  readonly size: number;
  /** Milliseconds a message is kept. */
  readonly ttlMs: number;
  /** The clock, in milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** How often expired channels are freed, in milliseconds. Default: a quarter of the ttl,
   * between 1 and 60 seconds. */
  readonly sweepIntervalMs?: number;
  /** Whether `channel` has subscribers: its epoch and offsets then outlive its messages, so
   * that connected subscribers never see offsets start again. Default: never. */
  readonly hasSubscribers?: (channel: string) => boolean;
}

interface Entry extends KeptMessage {
  readonly keptUntil: number;
}

interface Stream {
  readonly epoch: string;
  top: number;
  /** Oldest first; offsets `top - entries.length + 1` to `top`. */
  readonly entries: Entry[];
  /** When the stream may be freed once it holds nothing: an epoch handed out by `position()`
   * must outlive the ttl, so that the first publish still carries it. */
  keptUntil: number;
}

/** A new epoch: 8 random hex digits. */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Every channel's recent messages, bounded by `size` per channel and by `ttlMs`. */
export class MemoryHistory implements History, Disposable {
  readonly #streams = new Map<string, Stream>();
  readonly #size: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #hasSubscribers: (channel: string) => boolean;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(options: HistoryOptions) {
    if (!(options.size >= 1)) throw new RangeError("history size must be at least 1");
    this.#size = options.size;
    this.#ttlMs = options.ttlMs;
    this.#now = options.now ?? Date.now;
    this.#hasSubscribers = options.hasSubscribers ?? (() => false);
    const sweep = options.sweepIntervalMs ?? Math.min(60_000, Math.max(1_000, options.ttlMs / 4));
    this.#timer = setInterval(() => this.sweep(), sweep);
    Deno.unrefTimer(this.#timer);
  }

  /** Keeps `payload` (JSON text) as `channel`'s next message; returns its position. */
  append(channel: string, payload: string): Position {
    const now = this.#now();
    const stream = this.#stream(channel, now);
    stream.top++;
    stream.entries.push({ offset: stream.top, payload, keptUntil: now + this.#ttlMs });
    if (stream.entries.length > this.#size) stream.entries.shift();
    stream.keptUntil = now + this.#ttlMs;
    return { offset: stream.top, epoch: stream.epoch };
  }

  /** Where `channel` stands now; for a channel without history, offset 0 and the epoch its
   * first message will carry (unless the history is freed meanwhile). */
  position(channel: string): Position {
    const stream = this.#stream(channel, this.#now());
    return { offset: stream.top, epoch: stream.epoch };
  }

  /** The messages after `since`, oldest first, when every one of them is still kept under
   * the same epoch; null when the epoch differs, `since` is ahead of the channel, or some
   * message after it is gone (size or ttl). */
  after(channel: string, since: Position): KeptMessage[] | null {
    const stream = this.#stream(channel, this.#now());
    if (since.epoch !== stream.epoch || since.offset > stream.top) return null;
    const missing = stream.top - since.offset;
    if (missing > stream.entries.length) return null;
    return stream.entries.slice(stream.entries.length - missing);
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
    const stream = this.#stream(channel, this.#now());
    const first = stream.top - stream.entries.length + 1;
    const start = Math.max(0, since + 1 - first);
    const messages = stream.entries.slice(start, start + limit);
    return { offset: stream.top, epoch: stream.epoch, messages };
  }

  /** How many channels have a stream (kept messages, or an epoch handed out). */
  get channelCount(): number {
    return this.#streams.size;
  }

  /** Drops expired messages everywhere and frees the streams left with nothing. */
  sweep(): void {
    const now = this.#now();
    for (const [channel, stream] of this.#streams) {
      expire(stream, now);
      if (!this.#isKept(channel, stream, now)) this.#streams.delete(channel);
    }
  }

  #stream(channel: string, now: number): Stream {
    let stream = this.#streams.get(channel);
    if (stream !== undefined) {
      expire(stream, now);
      if (this.#isKept(channel, stream, now)) return stream;
    }
    stream = { epoch: newEpoch(), top: 0, entries: [], keptUntil: now + this.#ttlMs };
    this.#streams.set(channel, stream);
    return stream;
  }

  #isKept(channel: string, stream: Stream, now: number): boolean {
    return stream.entries.length > 0 || stream.keptUntil > now || this.#hasSubscribers(channel);
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}

function expire(stream: Stream, now: number): void {
  let expired = 0;
  while (expired < stream.entries.length && stream.entries[expired]!.keptUntil <= now) expired++;
  if (expired > 0) stream.entries.splice(0, expired);
}
