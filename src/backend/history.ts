/**
 * @module
 * Channel history (`--history-size`, `--history-ttl`, `--history-max-bytes`): the last
 * messages of each channel with their offsets, and the channel's epoch. Offsets start at 1 and
 * grow by one per message; whenever a channel's history is freed or lost, its offsets start
 * again at 1 under a new epoch, so an old position is never mistaken for a new one. The
 * interface every backend implements (memory_history.ts, redis_history.ts).
 */

export { newEpoch } from "../epoch.ts";

/** Where a channel's stream stands: the last offset given out, within `epoch`. */
export interface Position {
  readonly offset: number;
  readonly epoch: string;
}

/** One kept message: its offset, its payload as JSON text, and, for a client's publication,
 * its publisher's user. */
export interface KeptMessage {
  readonly offset: number;
  readonly payload: string;
  readonly user?: string;
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
 * method rejects with `BackendUnavailableError` when Redis cannot be reached. */
export interface History {
  /** Each channel of `join`'s position, and the messages after its `since` position when they
   * are all kept under the same epoch. */
  resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume>;
  /** Up to `limit` kept messages with offsets above `since`, oldest first. */
  read(channel: string, since: number, limit: number): Promise<HistoryPage>;
}
