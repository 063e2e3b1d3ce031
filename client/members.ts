/**
 * @module
 * Who is in each channel with join and leave events, as the subscriber knows it: the list the
 * server gives with each join (in a WebSocket join's reply, or an SSE stream's `event: members`),
 * which replaces the last one, kept up to date by the `joined` and `left` frames that follow; and
 * the parsers of those lists and frames. Pure bookkeeping: knows nothing of sockets or queues.
 */

import type { ChannelMembers, MemberEvent, MembersEvent } from "./subscriber_types.ts";

/** What changes a channel's list: a new list, or one user coming or going. */
export type MembershipEvent = MemberEvent | MembersEvent;

/** The members of each channel with join and leave events, by channel. */
export class MemberLists {
  readonly #lists = new Map<string, { users: Set<string>; isTruncated: boolean }>();

  /** The members of `channel` as last received; undefined when it has no list: not joined, no
   * join and leave events, or not listed yet. */
  get(channel: string): ChannelMembers | undefined {
    const list = this.#lists.get(channel);
    if (list === undefined) return undefined;
    return { channel, users: [...list.users], isTruncated: list.isTruncated };
  }

  /** Applies the reply to a join of `join`: each channel it lists members for takes that list,
   * and the others lose theirs (they have no join and leave events, or no longer). Returns a
   * `members` event for each list taken, in the join's order, to report. A join of one channel
   * has its list at the top level of the reply; a join of several, in the channels' entries. */
  applyJoinReply(
    join: readonly string[],
    reply: Readonly<Record<string, unknown>>,
  ): MembersEvent[] {
    const channels = [...new Set(join)];
    const entries = isRecord(reply.channels) ? reply.channels : {};
    const events: MembersEvent[] = [];
    for (const channel of channels) {
      const entry = listOf(entries[channel]);
      const list = channels.length === 1 ? listOf(reply) ?? entry : entry;
      if (list === undefined) {
        this.#lists.delete(channel);
        continue;
      }
      const event: MembersEvent = { type: "members", channel, ...list };
      this.apply(event);
      events.push(event);
    }
    return events;
  }

  /** Applies `event`: a list replaces the channel's; a `joined` adds its user to the channel's
   * list and a `left` removes it, each a set operation (a `joined` for someone listed changes
   * nothing), and neither makes a list for a channel that has none. */
  apply(event: MembershipEvent): void {
    if (event.type === "members") {
      const { users, isTruncated } = event;
      this.#lists.set(event.channel, { users: new Set(users), isTruncated });
      return;
    }
    const users = this.#lists.get(event.channel)?.users;
    if (event.type === "joined") users?.add(event.user);
    else users?.delete(event.user);
  }

  /** Forgets the lists of `channels`, once left. */
  forget(channels: Iterable<string>): void {
    for (const channel of channels) this.#lists.delete(channel);
  }
}

/** `frame` (parsed JSON) as a user coming or going:
 * `{"channel": "room:1", "joined": {"user": "alice"}}`, or `"left"`; undefined for anything
 * else. */
export function memberEventOf(frame: unknown): MemberEvent | undefined {
  if (!isRecord(frame) || typeof frame.channel !== "string") return undefined;
  for (const type of ["joined", "left"] as const) {
    const change = frame[type];
    if (isRecord(change) && typeof change.user === "string") {
      return { type, channel: frame.channel, user: change.user };
    }
  }
  return undefined;
}

/** The data of an SSE stream's `event: members` (parsed JSON),
 * `{"channel": "room:1", "members": ["alice"]}`, as a list; undefined when it is not one. */
export function membersEventOf(data: unknown): MembersEvent | undefined {
  const list = listOf(data);
  if (list === undefined || !isRecord(data) || typeof data.channel !== "string") return undefined;
  return { type: "members", channel: data.channel, ...list };
}

/** The `members` (all strings) and `members_truncated` of `value`; undefined without them. */
function listOf(value: unknown): { users: string[]; isTruncated: boolean } | undefined {
  if (!isRecord(value) || !Array.isArray(value.members)) return undefined;
  const users = value.members.filter((user): user is string => typeof user === "string");
  return { users, isTruncated: value.members_truncated === true };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
