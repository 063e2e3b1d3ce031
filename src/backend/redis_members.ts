/**
 * @module
 * The members of the channels with join and leave events, across the cluster. Each node
 * writes which users it has in each such channel; one script per channel, in the channel's
 * Redis Cluster slot, keeps beside them on how many nodes each user is, and decides in the same
 * step who came (from 0 nodes to 1: it publishes `joined` on the channel's pub/sub channel, so
 * every node delivers it, leaving out the joining connection) and who is going (from 1 to 0:
 * their `left` frame waits in the channel, due after `--leave-delay`). The channels with lefts
 * pending are listed apart, and every node sweeps them (redis_members_sweep.ts): each due
 * `left` goes to one node, which publishes it unless the user came back. The same sweep reaps
 * the members of the nodes gone from the live nodes, whose lists of channels are in the nodes'
 * slot, so a dead node's users leave once, after the delay. The members' format renders the
 * events; the scripts only move them. A Pusher presence channel's members keep their info
 * beside them, for its rosters.
 */

import type { Hub, Subscriber } from "../hub.ts";
import type { Logger } from "../log.ts";
import {
  type MemberIdentity,
  type MemberRoster,
  type Members,
  type MembersOptions,
  MemberTally,
} from "./members.ts";
import { errorMessage } from "../text.ts";
import type { RedisKeys } from "./keys.ts";
import type { KeyedRun, RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";
import { migrateMemberKeys } from "./redis_members_migration.ts";
import { listMembers, type MemberWrite, writeMembers } from "./redis_members_store.ts";
import { reapDeadNodes, sendDueLefts } from "./redis_members_sweep.ts";

/** How long to wait before writing again after Redis refused a write. */
const RETRY_MS = 1_000;

/** Options of `RedisMembers`. */
export interface RedisMembersOptions extends MembersOptions {
  readonly nodeId: string;
  /** Keeps these members' node lists and pending lefts apart from another format's, so that
   * each is swept (and told of) by its own: `""` for `--join-leave`, `":pusher"`. */
  readonly kind: string;
  readonly logger: Logger;
}

/** A change not yet written: who, and the connection that brought them to this node. */
interface Change {
  readonly member: MemberIdentity;
  readonly joiner: Subscriber | undefined;
}

/** Channel → user → their change not yet written. */
type Pending = Map<string, Map<string, Change>>;

/** Members shared through Redis. */
export class RedisMembers implements Members {
  readonly #link: RedisLink;
  /** Runs a command on the master of a key's slot. */
  readonly #run: KeyedRun = (key, command) => this.#link.run(command, { key });
  readonly #keys: RedisKeys;
  readonly #options: RedisMembersOptions;
  readonly #mark: (except: Subscriber) => string;
  readonly #tally: MemberTally;
  #pending: Pending = new Map();
  #changes = 0;
  #written = 0;
  #flushing: Promise<void> | undefined;
  #waiters: Array<{ change: number; resolve: () => void }> = [];
  /** Set when a write found this node not live: it waits for the membership's rewrite. */
  #isForgotten = false;
  #failure: string | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sweepTimer: ReturnType<typeof setInterval>;
  #sweeping: Promise<void> | undefined;
  #isClosed = false;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, membership, mark, options }: {
      hub: Hub;
      membership: RedisMembership;
      /** The broker's mark that leaves a connection of this node out of a published frame. */
      mark: (except: Subscriber) => string;
      options: RedisMembersOptions;
    },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#options = options;
    this.#mark = mark;
    this.#tally = new MemberTally(hub, options.format, {
      first: (channel, member, joiner) => this.#note(channel, member, joiner),
      last: (channel, member) => this.#note(channel, member),
    });
    // Redis lost this node's mirror (it restarted, or reaped the node): its members too.
    membership.onRewritten(() => this.#rewrite());
    // Back after Redis was unreachable: what changed meanwhile is written, and what Redis holds
    // for this node id but its tally does not (an earlier process with the same
    // --node-id, killed before it was reaped) leaves.
    link.onReady(() => {
      this.#schedule();
      this.#upgrade().then(() => this.#leaveStrangers()).catch(() => {});
    });
    this.#sweepTimer = setInterval(
      () => {
        if (this.#sweeping !== undefined || !link.isReady) return;
        this.#sweeping = this.#sweep().finally(() => this.#sweeping = undefined);
      },
      Math.max(100, Math.min(1000, options.leaveDelayMs / 4)),
    );
  }

  tracks(channel: string): boolean {
    return this.#tally.tracks(channel);
  }

  async list(channels: readonly string[]): Promise<Map<string, MemberRoster>> {
    if (channels.length === 0) return new Map();
    await this.#synced();
    const { maxMembersListed: max, format } = this.#options;
    return await listMembers(this.#run, this.#keys, { channels, max, withInfo: format.hasInfo });
  }

  #note(channel: string, member: MemberIdentity, joiner?: Subscriber): void {
    let users = this.#pending.get(channel);
    if (users === undefined) this.#pending.set(channel, users = new Map());
    users.set(member.user, { member, joiner });
    this.#changes++;
    this.#schedule();
  }

  #rewrite(): void {
    this.#isForgotten = false;
    for (const [channel, member] of this.#tally.pairs()) {
      if (!this.#pending.get(channel)?.has(member.user)) this.#note(channel, member);
    }
    this.#schedule();
  }

  /** Moves what Boreas 0.1 left of these members into today's keys. */
  async #upgrade(): Promise<void> {
    const { kind, logger } = this.#options;
    // Boreas 0.1 never ran on Redis Cluster: nothing to move there.
    if (this.#keys.isSharded) return;
    const moved = await this.#link.run((redis) => migrateMemberKeys(redis, this.#keys, kind));
    if (moved > 0) logger.info("moved the members' keys of Boreas 0.1", { moved });
  }

  /** Notes as gone the users Redis lists for this node in a channel that the tally does not
   * hold: they were an earlier process's. */
  async #leaveStrangers(): Promise<void> {
    const { nodeId, kind } = this.#options;
    const keys = this.#keys;
    const listed = keys.memberChannels(nodeId, kind);
    const channels = await this.#run(listed, (redis) => redis.sMembers(listed));
    // Each channel's members are in its own slot.
    const users = await Promise.all(channels.map((channel) => {
      const mine = keys.nodeMembers(channel, nodeId);
      return this.#run(mine, (redis) => redis.hKeys(mine));
    }));
    const held = channels.map((channel, i) => [channel, users[i]!] as const);
    for (const [channel, users] of held) {
      for (const user of users) {
        if (!this.#tally.has(channel, user) && !this.#pending.get(channel)?.has(user)) {
          // Who they were is gone with that process: their leaving needs only their name.
          this.#note(channel, { user, info: "" });
        }
      }
    }
  }

  /** Resolves once the changes made so far are written, or could not be. */
  #synced(): Promise<void> {
    if (this.#written >= this.#changes || !this.#link.isReady) return Promise.resolve();
    const change = this.#changes;
    const done = new Promise<void>((resolve) => this.#waiters.push({ change, resolve }));
    this.#schedule();
    return done;
  }

  #schedule(): void {
    if (this.#flushing !== undefined || this.#isClosed || this.#isForgotten) return;
    if (this.#retryTimer !== undefined || !this.#link.isReady) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      if (this.#pending.size === 0 || this.#isClosed) return;
      if (this.#failure === null) return this.#schedule();
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#schedule();
      }, RETRY_MS);
    });
  }

  /** Writes every pending change; keeps those it could not write for the next attempt. */
  async #flush(): Promise<void> {
    const change = this.#changes;
    const pending = this.#pending;
    this.#pending = new Map();
    const channels = [...pending];
    try {
      const joined = await this.#write(channels);
      if (joined === null) {
        this.#isForgotten = true;
        this.#keep(channels);
      } else {
        channels.forEach(([channel], i) => {
          for (const user of joined[i]!) this.#options.events?.joined(channel, user);
        });
      }
      this.#failure = null;
    } catch (error) {
      this.#keep(channels);
      if (this.#failure === null) {
        this.#options.logger.warn("channel members not written; retrying", {
          error: errorMessage(error),
        });
      }
      this.#failure = errorMessage(error);
    }
    // Written, or not to be soon: nobody waits for it (their reads fail while Redis does).
    this.#written = change;
    this.#release(change);
  }

  #write(
    channels: ReadonlyArray<[string, ReadonlyMap<string, Change>]>,
  ): Promise<string[][] | null> {
    const { nodeId, kind, leaveDelayMs } = this.#options;
    const publishCommand = this.#link.publishCommand;
    return writeMembers(this.#run, this.#keys, {
      channels: channels.map(([channel, users]) => [channel, this.#rendered(channel, users)]),
      options: { nodeId, kind, leaveDelayMs, publishCommand },
    });
  }

  /** `users`' changes in `channel` as the channel's script takes them. */
  #rendered(channel: string, users: ReadonlyMap<string, Change>): MemberWrite[] {
    const format = this.#options.format;
    return [...users].map(([user, { member: noted, joiner }]) => {
      // Who they are here now; they may have left (and come back as someone else) since.
      const here = this.#tally.member(channel, user);
      const member = here ?? noted;
      const mark = here !== undefined && joiner !== undefined ? this.#mark(joiner) : "";
      return {
        isIn: here !== undefined,
        user,
        joined: here === undefined ? "" : mark + format.joined(channel, member),
        left: JSON.stringify({ channel, user, frame: format.left(channel, member) }),
        info: member.info,
      };
    });
  }

  /** Puts back changes that were not written, behind any newer ones. */
  #keep(channels: ReadonlyArray<[string, ReadonlyMap<string, Change>]>): void {
    for (const [channel, users] of channels) {
      let newer = this.#pending.get(channel);
      if (newer === undefined) this.#pending.set(channel, newer = new Map());
      for (const [user, change] of users) if (!newer.has(user)) newer.set(user, change);
    }
  }

  #release(change: number): void {
    const waiting = this.#waiters;
    this.#waiters = waiting.filter((waiter) => waiter.change > change);
    for (const waiter of waiting) if (waiter.change <= change) waiter.resolve();
  }

  /** Reaps the dead nodes' members, then sends the due lefts. */
  async #sweep(): Promise<void> {
    const keys = this.#keys;
    const { leaveDelayMs, logger, kind, events } = this.#options;
    const options = { kind, leaveDelayMs, publishCommand: this.#link.publishCommand };
    try {
      const reaped = await reapDeadNodes(this.#run, keys, options);
      const sent = await sendDueLefts(this.#run, keys, options);
      for (const node of reaped) {
        logger.debug("members of a node that stopped are leaving", { node });
      }
      for (const [channel, user] of sent) events?.left(channel, user);
    } catch {
      // Swept again at the next tick.
    }
  }

  /** Stops following the hub and sweeping, after one last try at writing what is pending. */
  async close(): Promise<void> {
    this.#isClosed = true;
    this.#tally[Symbol.dispose]();
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#retryTimer);
    await Promise.all([this.#flushing, this.#sweeping]);
    if (this.#pending.size > 0 && this.#link.isReady) await this.#flush();
    this.#release(Infinity);
  }
}
