/**
 * @module
 * Who is in the channels with join and leave events (`--join-leave`): users, not connections.
 * A user joins a channel with their first connection in it and leaves once their last one has
 * been gone for `--leave-delay`, so a second tab or a page reload sends nothing. A
 * `MemberFormat` says which channels have members and who a connection is there: the native
 * one (`--join-leave`) and each Pusher app's presence channels (with a delay of 0) use the
 * same machinery. `MemberTally` follows this node's hub; `MemoryMembers` is the whole story on a standalone server, and
 * `RedisMembers` (cluster/redis_members.ts) tells the cluster. Knows nothing of the wire beyond
 * the rendered events.
 */

import { isAdapterChannel } from "./channel.ts";
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
  list(channels: readonly string[]): Promise<Map<string, MemberRoster>>;
  /** Stops following the hub, after writing what it owes the cluster. */
  close(): Promise<void>;
}

/** A channel's members as `Members.list` gives them: at most `--max-members-listed` users,
 * their infos (when the format keeps them), and how many there are in all. */
export interface MemberRoster extends MemberList {
  /** How many members the channel has, listed or not. */
  readonly count: number;
  /** Each listed user's info, in the order of `users`; empty when the format keeps none. */
  readonly infos: readonly string[];
}

/** Who a connection is in a tracked channel: the user's key, and what lists show of them. */
export interface MemberIdentity {
  readonly user: string;
  /** Text the channel's lists keep for the user (a Pusher member's JSON); "" for none. */
  readonly info: string;
}

/** What one kind of channel with members (native, a Pusher app's presence channels) says:
 * which channels have members, who a connection is in one, and the frames of a user's coming
 * and going. `channel` is always the hub's name. */
export interface MemberFormat {
  /** Whether `channel` has members of this kind. */
  tracks(channel: string): boolean;
  /** Who `subscriber`, in the hub's `channel`, is there; null: nobody, it does not count. */
  identify(subscriber: Subscriber, channel: string): MemberIdentity | null;
  /** The frame telling `channel`'s subscribers that `member` came. */
  joined(channel: string, member: MemberIdentity): string;
  /** The frame telling `channel`'s subscribers that `member` is gone. */
  left(channel: string, member: MemberIdentity): string;
  /** Whether lists carry each member's info. */
  readonly hasInfo: boolean;
}

/** Told once per user and channel across the cluster (by the node that decided it) when a
 * member comes or goes, as the frames are sent: for webhooks. */
export interface MemberEvents {
  joined(channel: string, user: string): void;
  left(channel: string, user: string): void;
}

/** The native format: the users of `--join-leave` channels, named by their token's grant,
 * with `joined` and `left` frames of the native protocol. An adapter's channels are none of
 * its, whatever the patterns. */
export function nativeMemberFormat(hub: Hub, patterns: readonly string[]): MemberFormat {
  return {
    tracks: (channel) => !isAdapterChannel(channel) && grantsChannel(patterns, channel),
    identify: (subscriber) => {
      const user = hub.sessionOf(subscriber)?.user ?? null;
      return user === null ? null : { user, info: "" };
    },
    joined: (channel, { user }) => renderMemberEvent(channel, "joined", user),
    left: (channel, { user }) => renderMemberEvent(channel, "left", user),
    hasInfo: false,
  };
}

/** Told when a user's count of connections on this node in a tracked channel crosses 0. */
export interface TallyListener {
  /** `joiner` is the first of `member`'s connections on this node to be in `channel`. */
  first(channel: string, member: MemberIdentity, joiner: Subscriber): void;
  /** The last of `member`'s connections on this node left `channel`. */
  last(channel: string, member: MemberIdentity): void;
}

/** One user's connections on this node in one channel, and who their first one said they
 * are. */
interface Tally {
  count: number;
  readonly member: MemberIdentity;
}

/** This node's connections per tracked channel and user, followed from the hub: a connection
 * counts in a channel it has joined when the format identifies it there. */
export class MemberTally implements Disposable {
  readonly #hub: Hub;
  readonly #format: MemberFormat;
  readonly #listener: TallyListener;
  /** Each counted connection's identity in each channel it counts in. */
  readonly #counted = new Map<Subscriber, Map<string, MemberIdentity>>();
  /** Channel → user → this node's connections of that user in that channel. */
  readonly #counts = new Map<string, Map<string, Tally>>();
  readonly #stop: () => void;

  constructor(hub: Hub, format: MemberFormat, listener: TallyListener) {
    this.#hub = hub;
    this.#format = format;
    this.#listener = listener;
    this.#stop = hub.onChange((change) => this.#changed(change));
  }

  /** Whether `channel` has members of the tally's format. */
  tracks(channel: string): boolean {
    return this.#format.tracks(channel);
  }

  /** Whether `user` has a connection on this node in `channel`. */
  has(channel: string, user: string): boolean {
    return this.#counts.get(channel)?.has(user) ?? false;
  }

  /** Who `user` is in `channel` on this node, if they are there. */
  member(channel: string, user: string): MemberIdentity | undefined {
    return this.#counts.get(channel)?.get(user)?.member;
  }

  /** Every channel and member with a connection on this node. */
  *pairs(): Generator<[channel: string, member: MemberIdentity]> {
    for (const [channel, users] of this.#counts) {
      for (const { member } of users.values()) yield [channel, member];
    }
  }

  #changed({ subscriber, channels }: HubChange): void {
    const view = this.#hub.sessionOf(subscriber);
    let counted = this.#counted.get(subscriber);
    // An authentication (no channels changed) may change who it is in every channel.
    const changed: Iterable<string> = channels.length > 0
      ? channels
      : new Set([...view?.channels ?? [], ...counted?.keys() ?? []]);
    for (const channel of changed) {
      if (!this.tracks(channel)) continue;
      const before = counted?.get(channel);
      const now = view?.channels.has(channel) === true
        ? this.#format.identify(subscriber, channel)
        : null;
      if (before !== undefined && before.user === now?.user) continue;
      if (before !== undefined) {
        counted!.delete(channel);
        this.#remove(channel, before);
      }
      if (now !== null) {
        if (counted === undefined) this.#counted.set(subscriber, counted = new Map());
        counted.set(channel, now);
        this.#add(channel, now, subscriber);
      }
    }
    if (counted !== undefined && counted.size === 0) this.#counted.delete(subscriber);
  }

  #add(channel: string, member: MemberIdentity, joiner: Subscriber): void {
    let users = this.#counts.get(channel);
    if (users === undefined) this.#counts.set(channel, users = new Map());
    const tally = users.get(member.user);
    if (tally !== undefined) return void tally.count++;
    users.set(member.user, { count: 1, member });
    this.#listener.first(channel, member, joiner);
  }

  #remove(channel: string, { user }: MemberIdentity): void {
    const users = this.#counts.get(channel);
    const tally = users?.get(user);
    if (users === undefined || tally === undefined) return;
    if (--tally.count > 0) return;
    users.delete(user);
    if (users.size === 0) this.#counts.delete(channel);
    this.#listener.last(channel, tally.member);
  }

  /** Stops following the hub. */
  [Symbol.dispose](): void {
    this.#stop();
  }
}

/** Options of the members of a server. */
export interface MembersOptions {
  /** Which channels have members, who they are, and the frames of their coming and going. */
  readonly format: MemberFormat;
  /** `--leave-delay`, in milliseconds (0 for Pusher's presence channels). */
  readonly leaveDelayMs: number;
  /** `--max-members-listed`. */
  readonly maxMembersListed: number;
  /** Told of each member's coming and going, once across the cluster. Default: nobody. */
  readonly events?: MemberEvents | undefined;
}

/** The members of a standalone server: this node is the cluster. */
export class MemoryMembers implements Members {
  readonly #hub: Hub;
  readonly #metrics: Metrics;
  readonly #options: MembersOptions;
  readonly #tally: MemberTally;
  /** Channel → user → who they are, and the timer of their pending `left`, if any. */
  readonly #rooms = new Map<string, Map<string, Room>>();

  constructor(hub: Hub, { metrics, options }: { metrics: Metrics; options: MembersOptions }) {
    this.#hub = hub;
    this.#metrics = metrics;
    this.#options = options;
    this.#tally = new MemberTally(hub, options.format, {
      first: (channel, member, joiner) => this.#first(channel, member, joiner),
      last: (channel, member) => this.#last(channel, member),
    });
  }

  tracks(channel: string): boolean {
    return this.#tally.tracks(channel);
  }

  list(channels: readonly string[]): Promise<Map<string, MemberRoster>> {
    const max = this.#options.maxMembersListed;
    const hasInfo = this.#options.format.hasInfo;
    const lists = new Map<string, MemberRoster>();
    for (const channel of channels) {
      const room = [...this.#rooms.get(channel)?.values() ?? []].slice(0, max);
      const count = this.#rooms.get(channel)?.size ?? 0;
      lists.set(channel, {
        users: room.map(({ member }) => member.user),
        infos: hasInfo ? room.map(({ member }) => member.info) : [],
        count,
        isTruncated: count > max,
      });
    }
    return Promise.resolve(lists);
  }

  #first(channel: string, member: MemberIdentity, joiner: Subscriber): void {
    let room = this.#rooms.get(channel);
    if (room === undefined) this.#rooms.set(channel, room = new Map());
    const present = room.get(member.user);
    if (present !== undefined) {
      // Back within the delay: nobody was told that they left.
      clearTimeout(present.timer);
      present.timer = undefined;
      return;
    }
    room.set(member.user, { member, timer: undefined });
    this.#send(channel, this.#options.format.joined(channel, member), joiner);
    this.#options.events?.joined(channel, member.user);
  }

  #last(channel: string, member: MemberIdentity): void {
    const present = this.#rooms.get(channel)?.get(member.user);
    if (present === undefined) return;
    const delayMs = this.#options.leaveDelayMs;
    // No delay (Pusher's): gone now, before anything else hears of the channel emptying.
    if (delayMs === 0) return this.#leave(channel, present);
    present.timer = setTimeout(() => this.#leave(channel, present), delayMs);
  }

  #leave(channel: string, { member }: Room): void {
    const room = this.#rooms.get(channel);
    if (room === undefined || this.#tally.has(channel, member.user)) return;
    room.delete(member.user);
    if (room.size === 0) this.#rooms.delete(channel);
    this.#send(channel, this.#options.format.left(channel, member));
    this.#options.events?.left(channel, member.user);
  }

  #send(channel: string, frame: string, except?: Subscriber): void {
    deliver(this.#hub, this.#metrics, channel, frame, { except });
  }

  /** Stops following the hub; pending leaves are dropped with the server. */
  close(): Promise<void> {
    this.#tally[Symbol.dispose]();
    for (const room of this.#rooms.values()) {
      for (const { timer } of room.values()) clearTimeout(timer);
    }
    this.#rooms.clear();
    return Promise.resolve();
  }
}

/** A member of a standalone server's channel, with the timer of their pending `left`. */
interface Room {
  readonly member: MemberIdentity;
  timer: ReturnType<typeof setTimeout> | undefined;
}
