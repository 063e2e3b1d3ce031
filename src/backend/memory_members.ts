/**
 * @module
 * The members of a standalone server: this node is the cluster, so its tally is the whole
 * story, and a `left` waits out `--leave-delay` on a timer here.
 */

import { deliver } from "./broker.ts";
import type { Hub, Subscriber } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import {
  type MemberIdentity,
  type MemberRoster,
  type Members,
  type MembersOptions,
  MemberTally,
} from "./members.ts";

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
