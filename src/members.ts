/**
 * @module
 * Who is in the channels with join and leave events (`--join-leave`): users, not connections.
 * A user joins a channel with their first connection in it and leaves once their last one has
 * been gone for `--leave-delay`, so a second tab or a page reload sends nothing. `MemberTally`
 * follows this node's hub; `MemoryMembers` is the whole story on a standalone server, and
 * `RedisMembers` (cluster/redis_members.ts) tells the cluster. Knows nothing of the wire beyond
 * the rendered events.
 */

import { deliver } from "./cluster/broker.ts";
import { grantsChannel } from "./grants.ts";
import type { Hub, HubChange, Subscriber } from "./hub.ts";
import type { Metrics } from "./metrics.ts";
import { type MemberList, renderMemberEvent } from "./protocol.ts";

export type { MemberList } from "./protocol.ts";

/** The members of the channels with join and leave events, across the cluster. */
export interface Members {
  /** Whether `channel` has join and leave events. */
  tracks(channel: string): boolean;
  /** The members of each of `channels`, once every hub change made before the call counts:
   * the caller's own user among them. Rejects with `ClusterUnavailableError` when they
   * cannot be read. */
  list(channels: readonly string[]): Promise<Map<string, MemberList>>;
  /** Stops following the hub, after writing what it owes the cluster. */
  close(): Promise<void>;
}

/** Told when a user's count of connections on this node in a tracked channel crosses 0. */
export interface TallyListener {
  /** `joiner` is the first of `user`'s connections on this node to be in `channel`. */
  first(channel: string, user: string, joiner: Subscriber): void;
  /** The last of `user`'s connections on this node left `channel`. */
  last(channel: string, user: string): void;
}

/** What one connection is counted in: its user and its tracked channels. */
interface Counted {
  readonly user: string;
  readonly channels: Set<string>;
}

/** This node's connections per tracked channel and user, followed from the hub: a connection
 * counts when its token names a user and it has joined a channel matching `patterns`. */
export class MemberTally implements Disposable {
  readonly #hub: Hub;
  readonly #patterns: readonly string[];
  readonly #listener: TallyListener;
  readonly #counted = new Map<Subscriber, Counted>();
  /** Channel → user → this node's connections of that user in that channel. */
  readonly #counts = new Map<string, Map<string, number>>();
  readonly #stop: () => void;

  constructor(hub: Hub, patterns: readonly string[], listener: TallyListener) {
    this.#hub = hub;
    this.#patterns = patterns;
    this.#listener = listener;
    this.#stop = hub.onChange((change) => this.#changed(change));
  }

  /** Whether `channel` matches the patterns. */
  tracks(channel: string): boolean {
    return grantsChannel(this.#patterns, channel);
  }

  /** Whether `user` has a connection on this node in `channel`. */
  has(channel: string, user: string): boolean {
    return this.#counts.get(channel)?.has(user) ?? false;
  }

  /** Every channel and user with a connection on this node. */
  *pairs(): Generator<[channel: string, user: string]> {
    for (const [channel, users] of this.#counts) {
      for (const user of users.keys()) yield [channel, user];
    }
  }

  #changed({ subscriber, channels }: HubChange): void {
    const view = this.#hub.sessionOf(subscriber);
    const user = view?.user ?? null;
    let counted = this.#counted.get(subscriber);
    // An authentication (no channels changed) may name a user for channels already joined.
    let changed: Iterable<string> = channels.length === 0 ? view?.channels ?? [] : channels;
    if (counted !== undefined && counted.user !== user) {
      // Closed, or authenticated again as someone else: out of everything, then in again.
      for (const channel of counted.channels) this.#remove(channel, counted.user);
      this.#counted.delete(subscriber);
      counted = undefined;
      changed = view?.channels ?? [];
    }
    if (view === undefined || user === null) return;
    counted ??= { user, channels: new Set() };
    for (const channel of changed) {
      if (!this.tracks(channel)) continue;
      const isIn = view.channels.has(channel);
      if (isIn && !counted.channels.has(channel)) {
        counted.channels.add(channel);
        this.#add(channel, user, subscriber);
      } else if (!isIn && counted.channels.delete(channel)) {
        this.#remove(channel, user);
      }
    }
    if (counted.channels.size > 0) this.#counted.set(subscriber, counted);
    else this.#counted.delete(subscriber);
  }

  #add(channel: string, user: string, joiner: Subscriber): void {
    let users = this.#counts.get(channel);
    if (users === undefined) this.#counts.set(channel, users = new Map());
    const count = (users.get(user) ?? 0) + 1;
    users.set(user, count);
    if (count === 1) this.#listener.first(channel, user, joiner);
  }

  #remove(channel: string, user: string): void {
    const users = this.#counts.get(channel);
    const count = (users?.get(user) ?? 0) - 1;
    if (users === undefined || count < 0) return;
    if (count > 0) return void users.set(user, count);
    users.delete(user);
    if (users.size === 0) this.#counts.delete(channel);
    this.#listener.last(channel, user);
  }

  /** Stops following the hub. */
  [Symbol.dispose](): void {
    this.#stop();
  }
}

/** Options of the members of a server. */
export interface MembersOptions {
  /** `--join-leave`: the channels with join and leave events. */
  readonly patterns: readonly string[];
  /** `--leave-delay`, in milliseconds. */
  readonly leaveDelayMs: number;
  /** `--max-members-listed`. */
  readonly maxMembersListed: number;
}

/** The members of a standalone server: this node is the cluster. */
export class MemoryMembers implements Members {
  readonly #hub: Hub;
  readonly #metrics: Metrics;
  readonly #options: MembersOptions;
  readonly #tally: MemberTally;
  /** Channel → its members, each with the timer of their pending `left`, if any. */
  readonly #rooms = new Map<string, Map<string, ReturnType<typeof setTimeout> | undefined>>();

  constructor(hub: Hub, { metrics, options }: { metrics: Metrics; options: MembersOptions }) {
    this.#hub = hub;
    this.#metrics = metrics;
    this.#options = options;
    this.#tally = new MemberTally(hub, options.patterns, {
      first: (channel, user, joiner) => this.#first(channel, user, joiner),
      last: (channel, user) => this.#last(channel, user),
    });
  }

  tracks(channel: string): boolean {
    return this.#tally.tracks(channel);
  }

  list(channels: readonly string[]): Promise<Map<string, MemberList>> {
    const max = this.#options.maxMembersListed;
    const lists = new Map<string, MemberList>();
    for (const channel of channels) {
      const users = [...this.#rooms.get(channel)?.keys() ?? []];
      lists.set(channel, { users: users.slice(0, max), isTruncated: users.length > max });
    }
    return Promise.resolve(lists);
  }

  #first(channel: string, user: string, joiner: Subscriber): void {
    let room = this.#rooms.get(channel);
    if (room === undefined) this.#rooms.set(channel, room = new Map());
    if (room.has(user)) {
      // Back within the delay: nobody was told that they left.
      clearTimeout(room.get(user));
      room.set(user, undefined);
      return;
    }
    room.set(user, undefined);
    this.#send(channel, renderMemberEvent(channel, "joined", user), joiner);
  }

  #last(channel: string, user: string): void {
    const room = this.#rooms.get(channel);
    if (room === undefined) return;
    room.set(user, setTimeout(() => this.#leave(channel, user), this.#options.leaveDelayMs));
  }

  #leave(channel: string, user: string): void {
    const room = this.#rooms.get(channel);
    if (room === undefined || this.#tally.has(channel, user)) return;
    room.delete(user);
    if (room.size === 0) this.#rooms.delete(channel);
    this.#send(channel, renderMemberEvent(channel, "left", user));
  }

  #send(channel: string, frame: string, except?: Subscriber): void {
    deliver(this.#hub, this.#metrics, channel, frame, { except });
  }

  /** Stops following the hub; pending leaves are dropped with the server. */
  close(): Promise<void> {
    this.#tally[Symbol.dispose]();
    for (const room of this.#rooms.values()) {
      for (const timer of room.values()) clearTimeout(timer);
    }
    this.#rooms.clear();
    return Promise.resolve();
  }
}
