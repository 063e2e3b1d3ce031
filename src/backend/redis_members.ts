/**
 * @module
 * The members of the channels with join and leave events, across the cluster. Each node
 * writes which users it has in each such channel; one script per channel keeps, beside them,
 * on how many nodes each user is, and decides in the same step who came (from 0 nodes to 1: it
 * publishes `joined` on the channel's pub/sub channel, so every node delivers it, leaving out
 * the joining connection) and who is going (from 1 to 0: their `left` frame goes into a sorted
 * set, due after `--leave-delay`). Every node sweeps that set: the script hands each due `left`
 * to one node, which publishes it there unless the user came back. The same sweep reaps the
 * members of the nodes gone from the live nodes, so a dead node's users leave once, after the
 * delay. The members' format renders the events; the scripts only move them. A Pusher
 * presence channel's members keep their info beside them, for its rosters.
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
import type { RedisClient, RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";
import { RedisScript } from "./redis_script.ts";
import MEMBERS_SYNC_LUA from "./lua/members_sync.lua" with { type: "text" };
import MEMBERS_LIST_LUA from "./lua/members_list.lua" with { type: "text" };
import MEMBERS_SWEEP_LUA from "./lua/members_sweep.lua" with { type: "text" };

const SYNC_SCRIPT = new RedisScript(MEMBERS_SYNC_LUA);

const LIST_SCRIPT = new RedisScript(MEMBERS_LIST_LUA);

const SWEEP_SCRIPT = new RedisScript(MEMBERS_SWEEP_LUA);

/** The most `left` events one sweep sends; the rest wait for the next. */
const MAX_LEFT_PER_SWEEP = 1000;

/** How long to wait before writing again after Redis refused a write. */
const RETRY_MS = 1_000;

/** Options of `RedisMembers`. */
export interface RedisMembersOptions extends MembersOptions {
  readonly nodeId: string;
  /** `--redis-prefix`, for the keys the sweep builds. */
  readonly prefix: string;
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
      this.#leaveStrangers().catch(() => {});
    });
    this.#sweepTimer = setInterval(
      () => this.#sweep(),
      Math.max(100, Math.min(1000, options.leaveDelayMs / 4)),
    );
  }

  tracks(channel: string): boolean {
    return this.#tally.tracks(channel);
  }

  async list(channels: readonly string[]): Promise<Map<string, MemberRoster>> {
    if (channels.length === 0) return new Map();
    await this.#synced();
    const max = this.#options.maxMembersListed;
    const withInfo = this.#options.format.hasInfo ? "1" : "0";
    const keys = this.#keys;
    const answers = await this.#link.run((redis) =>
      Promise.all(
        channels.map((channel) =>
          LIST_SCRIPT.run(redis, [keys.members(channel), keys.memberInfos(channel)], [
            max,
            withInfo,
          ])
        ),
      )
    ) as Array<[number, ...string[]]>;
    return new Map(channels.map((channel, i) => {
      const [count, ...listed] = answers[i]!;
      const n = Math.min(count, max);
      const users = listed.slice(0, n);
      const infos = withInfo === "1" ? listed.slice(n) : [];
      return [channel, { users, infos, count, isTruncated: count > n }];
    }));
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

  /** Notes as gone the users Redis lists for this node in a channel that the tally does not
   * hold: they were an earlier process's. */
  async #leaveStrangers(): Promise<void> {
    const { nodeId, kind } = this.#options;
    const keys = this.#keys;
    const held = await this.#link.run(async (redis) => {
      const channels = await redis.sMembers(keys.memberChannels(nodeId, kind));
      const users = await Promise.all(
        channels.map((channel) => redis.hKeys(keys.nodeMembers(channel, nodeId))),
      );
      return channels.map((channel, i) => [channel, users[i]!] as const);
    });
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
      const answers = await this.#link.run((redis) =>
        Promise.all(channels.map(([channel, users]) => this.#write(redis, channel, users)))
      );
      const unwritten = channels.filter((_, i) => answers[i] === -1);
      const events = this.#options.events;
      channels.forEach(([channel], i) => {
        const joined = answers[i];
        if (events !== undefined && Array.isArray(joined)) {
          for (const user of joined) events.joined(channel, String(user));
        }
      });
      if (unwritten.length > 0) {
        this.#isForgotten = true;
        this.#keep(unwritten);
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
    redis: RedisClient,
    channel: string,
    users: ReadonlyMap<string, Change>,
  ): Promise<unknown> {
    const keys = this.#keys;
    const { nodeId, leaveDelayMs, format, kind } = this.#options;
    const args: Array<string | number> = [
      nodeId,
      channel,
      keys.broadcastChannel(channel),
      leaveDelayMs,
    ];
    for (const [user, { member: noted, joiner }] of users) {
      // Who they are here now; they may have left (and come back as someone else) since.
      const here = this.#tally.member(channel, user);
      const member = here ?? noted;
      const joined = here === undefined ? "" : format.joined(channel, member);
      const mark = here !== undefined && joiner !== undefined ? this.#mark(joiner) : "";
      const left = JSON.stringify({ channel, user, frame: format.left(channel, member) });
      args.push(here === undefined ? "-" : "+", user, mark + joined, left, member.info);
    }
    return SYNC_SCRIPT.run(redis, [
      keys.members(channel),
      keys.nodeMembers(channel, nodeId),
      keys.leaving(kind),
      keys.memberChannels(nodeId, kind),
      keys.memberNodes(kind),
      keys.nodes,
      keys.memberInfos(channel),
    ], args);
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

  async #sweep(): Promise<void> {
    if (!this.#link.isReady) return;
    const keys = this.#keys;
    const { prefix, leaveDelayMs, logger, kind, events } = this.#options;
    try {
      const [reaped, sent] = await this.#link.run((redis) =>
        SWEEP_SCRIPT.run(redis, [keys.leaving(kind), keys.memberNodes(kind), keys.nodes], [
          prefix,
          leaveDelayMs,
          MAX_LEFT_PER_SWEEP,
          kind,
        ])
      ) as [string[], string[]];
      for (const node of reaped) {
        logger.debug("members of a node that stopped are leaving", { node });
      }
      for (const left of sent) {
        const { channel, user } = JSON.parse(left) as { channel: string; user: string };
        events?.left(channel, user);
      }
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
    await this.#flushing;
    if (this.#pending.size > 0 && this.#link.isReady) await this.#flush();
    this.#release(Infinity);
  }
}
