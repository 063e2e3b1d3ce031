/**
 * @module
 * Who is in each Pusher presence channel of this node: its users (by `user_id`, with the
 * `user_info` their first connection's `channel_data` gave) and each user's connections, so
 * that `member_added` goes out when a user's first connection joins and `member_removed` when
 * their last one leaves. Standalone only: a cluster's members would be the sum of every
 * node's, which this does not know. Knows nothing of sockets.
 */

import type { Subscriber } from "../hub.ts";

/** A presence member: a Pusher `user_id` (a number or a string) and its info. */
export interface PresenceMember {
  readonly userId: string | number;
  readonly userInfo?: unknown;
}

interface Present {
  readonly member: PresenceMember;
  readonly connections: Set<Subscriber>;
}

/** The presence channels' members, by the hub's channel name. */
export class PusherPresence {
  readonly #channels = new Map<string, Map<string, Present>>();

  /** Adds `connection` as `member` of `channel`; true when the user was not there before (a
   * `member_added` is due). */
  join(channel: string, member: PresenceMember, connection: Subscriber): boolean {
    let users = this.#channels.get(channel);
    if (users === undefined) this.#channels.set(channel, users = new Map());
    const key = String(member.userId);
    const present = users.get(key);
    if (present !== undefined) {
      present.connections.add(connection);
      return false;
    }
    users.set(key, { member, connections: new Set([connection]) });
    return true;
  }

  /** Removes `connection` from `channel`; returns the member whose last connection it was (a
   * `member_removed` is due), or undefined. */
  leave(
    channel: string,
    userId: string | number,
    connection: Subscriber,
  ): PresenceMember | undefined {
    const users = this.#channels.get(channel);
    const present = users?.get(String(userId));
    if (users === undefined || present === undefined) return undefined;
    if (!present.connections.delete(connection) || present.connections.size > 0) return undefined;
    users.delete(String(userId));
    if (users.size === 0) this.#channels.delete(channel);
    return present.member;
  }

  /** The members of `channel`, in the order they joined. */
  members(channel: string): PresenceMember[] {
    return [...(this.#channels.get(channel)?.values() ?? [])].map(({ member }) => member);
  }

  /** How many distinct users are in `channel`. */
  userCount(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }
}
