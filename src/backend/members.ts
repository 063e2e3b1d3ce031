/**
 * @module
 * Who is in the channels with join and leave events (`--join-leave`): users, not connections.
 * A user joins a channel with their first connection in it and leaves once their last one has
 * been gone for `--leave-delay`, so a second tab or a page reload sends nothing. A
 * `MemberFormat` says which channels have members and who a connection is there: the native
 * one (`--join-leave`) and each Pusher app's presence channels (with a delay of 0) use the
 * same machinery. The interface every backend implements (memory_members.ts,
 * redis_members.ts), and `MemberTally`, which follows this node's hub for both. Knows nothing of the wire beyond
 * the rendered events.
 */

import { isAdapterChannel } from "../channel.ts";
import { grantsChannel } from "../grants.ts";
import type { Hub, HubChange, Subscriber } from "../hub.ts";
import { type MemberList, renderMemberEvent } from "../protocol.ts";

export type { MemberList } from "../protocol.ts";

/** The members of the channels with join and leave events, across the cluster. */
export interface Members {
  /** Whether `channel` has join and leave events. */
  tracks(channel: string): boolean;
  /** The members of each of `channels`, once every hub change made before the call counts:
   * the caller's own user among them. Rejects with `BackendUnavailableError` when they
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
