/**
 * @module
 * Cluster membership in Redis. Each node mirrors its own hub there: one hash entry per open
 * connection (its token and channels) and, per channel, its number of subscribers. Changes are
 * written in batches, one MULTI at a time, so a burst of joins costs one round trip. Counts
 * leave out the nodes `NodeLiveness` knows dead. After Redis comes back (with or without its
 * data) the node writes its whole mirror again.
 */

import type { Hub, HubChange, HubSnapshot, Presence, Subscriber } from "../hub.ts";
import type { Logger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { errorMessage } from "../text.ts";
import type { RedisKeys } from "./keys.ts";
import {
  countersOf,
  type Membership,
  type NodeCounters,
  type NodeReport,
  nodeReportOf,
} from "./membership.ts";
import type { RedisLink } from "./redis_link.ts";
import { NodeLiveness } from "./redis_liveness.ts";

/** How long to wait before writing again after Redis refused a write. */
const RETRY_MS = 1_000;

/** What a connection's mirror entry holds: its token (null while anonymous), channels, and
 * user (absent when its token names none). */
type MirrorEntry = [token: string | null, channels: string[], user?: string];

/** Options of `RedisMembership`. */
export interface RedisMembershipOptions {
  readonly nodeId: string;
  /** Seconds after which a silent node stops counting (`--node-timeout`). */
  readonly nodeTimeoutSeconds: number;
  readonly logger: Logger;
}

/** Membership shared through Redis. */
export class RedisMembership implements Membership, AsyncDisposable {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #hub: Hub;
  readonly #metrics: Metrics;
  readonly #options: RedisMembershipOptions;
  readonly #ids = new Map<Subscriber, string>();
  #nextId = 0;
  #dirtyConnections = new Set<Subscriber>();
  #dirtyChannels = new Set<string>();
  /** Whether the whole mirror must be written again (Redis restarted, or we were reaped). */
  #needsRewrite = true;
  #changes = 0;
  #written = 0;
  #flushing: Promise<void> | undefined;
  #waiters: Array<{ change: number; resolve: () => void }> = [];
  readonly #liveness: NodeLiveness;
  readonly #reapedListeners: Array<(channels: ReadonlySet<string>) => void> = [];
  readonly #rewrittenListeners: Array<() => void> = [];
  readonly #stopListening: () => void;
  #isClosed = false;
  /** Why the last write failed, while writes fail. */
  #failure: string | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, metrics, options }: { hub: Hub; metrics: Metrics; options: RedisMembershipOptions },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#hub = hub;
    this.#metrics = metrics;
    this.#options = options;
    this.#liveness = new NodeLiveness(link, keys, {
      ...options,
      report: () => nodeReportOf(options.nodeId, hub, metrics),
      channelsOf: (node) => this.#channelsOf(node),
      onReaped: (channels) => {
        for (const listener of this.#reapedListeners) listener(channels);
      },
      onForgotten: () => {
        if (this.#needsRewrite) return;
        this.#needsRewrite = true;
        this.#schedule();
      },
    });
    this.#stopListening = hub.onChange((change) => this.#record(change));
    link.onReady(() => this.#onReconnect());
  }

  /** Calls `listener` each time the whole mirror was written again (Redis lost it). */
  onRewritten(listener: () => void): void {
    this.#rewrittenListeners.push(listener);
  }

  /** Calls `listener` with a dead node's channels once its counts were removed. */
  onReaped(listener: (channels: ReadonlySet<string>) => void): void {
    this.#reapedListeners.push(listener);
  }

  nodes(): readonly string[] {
    return this.#liveness.live;
  }

  async recipients(channel: string): Promise<number> {
    const counts = await this.#link.run((redis) => redis.hGetAll(this.#keys.channelNodes(channel)));
    return this.sumLive(counts);
  }

  /** Sums the per-node counts of a channel's node hash, leaving out the nodes known dead. A
   * node this one has not yet seen in a heartbeat counts: it has just joined. */
  sumLive(counts: Record<string, string>): number {
    let sum = 0;
    for (const [node, count] of Object.entries(counts)) {
      if (!this.#liveness.isDead(node)) sum += Number(count);
    }
    return sum;
  }

  async snapshot(): Promise<HubSnapshot> {
    const { others, local } = await this.#gather();
    let anonymous = local.anonymous;
    const tokens = new Map(local.tokens);
    const channels = new Map(local.channels);
    for (const [token, joined] of others) {
      if (token === null) anonymous++;
      else tokens.set(token, (tokens.get(token) ?? 0) + 1);
      for (const channel of joined) channels.set(channel, (channels.get(channel) ?? 0) + 1);
    }
    return { anonymous, tokens: [...tokens], channels: [...channels] };
  }

  async channelTokens(channel: string): Promise<string[]> {
    const { others } = await this.#gather();
    const tokens = new Set(this.#hub.channelTokens(channel));
    for (const [token, joined] of others) {
      if (token !== null && joined.includes(channel)) tokens.add(token);
    }
    return [...tokens];
  }

  async presence(channel: string): Promise<Presence> {
    const { others } = await this.#gather();
    const local = this.#hub.presence(channel);
    let connections = local.connections;
    const users = new Set(local.users);
    for (const [, joined, user] of others) {
      if (!joined.includes(channel)) continue;
      connections++;
      if (user !== undefined) users.add(user);
    }
    return { connections, users: [...users] };
  }

  async userConnections(user: string): Promise<number> {
    const { others } = await this.#gather();
    return this.#hub.userConnections(user) +
      others.filter((entry) => entry[2] === user).length;
  }

  async nodeReports(): Promise<NodeReport[]> {
    const { nodeId } = this.#options;
    const others = this.#liveness.live.filter((node) => node !== nodeId);
    const own = nodeReportOf(nodeId, this.#hub, this.#metrics);
    if (others.length === 0) return [own];
    const reports = await this.#link.run((redis) =>
      redis.mGet(others.map((node) => this.#keys.nodeCounters(node)))
    );
    // A node that has not yet written a report (or whose report expired, or that wrote one
    // this version cannot read) is left out.
    return [own, ...reports.flatMap((report, i) => readReport(others[i]!, report))];
  }

  async counters(): Promise<NodeCounters> {
    const sum: Record<string, number> = { ...countersOf(this.#metrics) };
    const [, ...others] = await this.nodeReports();
    for (const report of others) {
      for (const name of Object.keys(sum)) {
        const value = (report as unknown as Record<string, unknown>)[name];
        if (typeof value === "number") sum[name] = sum[name]! + value;
      }
    }
    return sum as unknown as NodeCounters;
  }

  synced(): Promise<void> {
    // While Redis is unreachable the changes wait in the dirty sets for the reconnect.
    if (!this.#link.isReady) return Promise.resolve();
    if (this.#written >= this.#changes && !this.#needsRewrite) return Promise.resolve();
    const change = this.#changes;
    const done = new Promise<void>((resolve) => this.#waiters.push({ change, resolve }));
    this.#schedule();
    return done;
  }

  /** The other live nodes' connections, and this node's own hub snapshot. */
  async #gather(): Promise<{ others: MirrorEntry[]; local: HubSnapshot }> {
    const { nodeId } = this.#options;
    const local = this.#hub.snapshot();
    const lists = await this.#link.run(async (redis) => {
      // The registered nodes now, not as of the last heartbeat: one that has just joined counts.
      const registered = await redis.zRange(this.#keys.nodes, 0, -1);
      const others = registered.filter((node) => node !== nodeId && !this.#liveness.isDead(node));
      if (others.length === 0) return [];
      const pipeline = redis.multi();
      for (const node of others) pipeline.hVals(this.#keys.nodeConnections(node));
      return (await pipeline.execAsPipeline()) as unknown as string[][];
    });
    return { others: lists.flat().map((entry) => JSON.parse(entry) as MirrorEntry), local };
  }

  #record({ subscriber, channels }: HubChange): void {
    this.#dirtyConnections.add(subscriber);
    for (const channel of channels) this.#dirtyChannels.add(channel);
    this.#changes++;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#flushing !== undefined || this.#isClosed || !this.#link.isReady) return;
    if (this.#retryTimer !== undefined) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      if (this.#isClosed) return;
      if (this.#written >= this.#changes && !this.#needsRewrite) return;
      if (this.#failure === null) return this.#schedule();
      // Redis answers but refuses the writes (out of memory, say): try again in a second, not
      // in a tight loop.
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#schedule();
      }, RETRY_MS);
    });
  }

  /** What is wrong with the mirror, or null: set while writing it fails. */
  problem(): string | null {
    return this.#failure === null ? null : `redis: membership not written: ${this.#failure}`;
  }

  /** Writes every change recorded so far; on failure keeps them for the next attempt. */
  async #flush(): Promise<void> {
    const change = this.#changes;
    const isRewrite = this.#needsRewrite;
    if (isRewrite) this.#markAllDirty();
    const connections = this.#dirtyConnections;
    const channels = this.#dirtyChannels;
    this.#dirtyConnections = new Set();
    this.#dirtyChannels = new Set();
    this.#needsRewrite = false;
    try {
      await this.#write(connections, channels, isRewrite);
      this.#written = change;
      this.#failure = null;
      this.#release(change);
      if (isRewrite) { for (const listener of this.#rewrittenListeners) listener(); }
    } catch (error) {
      for (const subscriber of connections) this.#dirtyConnections.add(subscriber);
      for (const channel of channels) this.#dirtyChannels.add(channel);
      this.#needsRewrite ||= isRewrite;
      if (this.#failure === null) {
        this.#options.logger.warn("cluster membership not written; retrying", {
          error: errorMessage(error),
        });
      }
      this.#failure = errorMessage(error).replace(/^redis: /, "");
      // The changes wait for the next attempt; nobody is kept waiting for it, not even those
      // who asked while this attempt ran.
      this.#release(Infinity);
    }
  }

  async #write(
    connections: ReadonlySet<Subscriber>,
    channels: ReadonlySet<string>,
    isRewrite: boolean,
  ): Promise<void> {
    const { nodeId } = this.#options;
    const keys = this.#keys;
    const hub = this.#hub;
    const joined = [...channels].filter((channel) => hub.memberCount(channel) > 0);
    // Subscribed before the count is visible: a publisher that counts us reaches us.
    await this.#link.subscribe(joined.map((channel) => keys.broadcastChannel(channel)));
    const removed: Subscriber[] = [];
    await this.#link.run(async (redis) => {
      const multi = redis.multi();
      const mirror = keys.nodeConnections(nodeId);
      if (isRewrite) multi.del(mirror);
      for (const subscriber of connections) {
        const id = this.#idOf(subscriber);
        const session = hub.sessionOf(subscriber);
        if (session === undefined) {
          if (!isRewrite) multi.hDel(mirror, id);
          removed.push(subscriber);
        } else {
          const entry: MirrorEntry = [session.token, [...session.channels]];
          if (session.user !== null) entry.push(session.user);
          multi.hSet(mirror, id, JSON.stringify(entry));
        }
      }
      for (const channel of channels) {
        const count = hub.memberCount(channel);
        if (count > 0) multi.hSet(keys.channelNodes(channel), nodeId, count);
        else multi.hDel(keys.channelNodes(channel), nodeId);
      }
      await multi.exec();
    });
    // Only now: a failed write is retried under the same ids.
    for (const subscriber of removed) this.#ids.delete(subscriber);
    const left = [...channels].filter((channel) => hub.memberCount(channel) === 0);
    await this.#link.unsubscribe(left.map((channel) => keys.broadcastChannel(channel)));
  }

  #markAllDirty(): void {
    for (const subscriber of this.#ids.keys()) this.#dirtyConnections.add(subscriber);
    for (const [channel] of this.#hub.snapshot().channels) this.#dirtyChannels.add(channel);
  }

  #idOf(subscriber: Subscriber): string {
    let id = this.#ids.get(subscriber);
    if (id === undefined) {
      id = (this.#nextId++).toString(36);
      this.#ids.set(subscriber, id);
    }
    return id;
  }

  #release(change: number): void {
    const waiting = this.#waiters;
    this.#waiters = waiting.filter((waiter) => waiter.change > change);
    for (const waiter of waiting) if (waiter.change <= change) waiter.resolve();
  }

  async #onReconnect(): Promise<void> {
    await this.#liveness.beat();
    this.#schedule();
  }

  /** The channels `node`'s mirrored connections had joined. */
  async #channelsOf(node: string): Promise<Set<string>> {
    const entries = await this.#link.run((redis) => redis.hVals(this.#keys.nodeConnections(node)));
    const channels = new Set<string>();
    for (const entry of entries) {
      for (const channel of (JSON.parse(entry) as MirrorEntry)[1]) channels.add(channel);
    }
    return channels;
  }

  /** Says goodbye: removes this node's mirror and liveness, so the others stop counting it at
   * once. Called after every connection is closed. */
  async leave(): Promise<void> {
    this.#isClosed = true;
    clearTimeout(this.#retryTimer);
    this.#liveness.stop();
    this.#stopListening();
    await this.#flushing;
    const { nodeId } = this.#options;
    const keys = this.#keys;
    const channels = new Set<string>(this.#dirtyChannels);
    for (const [channel] of this.#hub.snapshot().channels) channels.add(channel);
    await this.#link.run(async (redis) => {
      const multi = redis.multi();
      multi.del([keys.nodeConnections(nodeId), keys.nodeCounters(nodeId)]);
      multi.zRem(keys.nodes, nodeId);
      for (const channel of channels) multi.hDel(keys.channelNodes(channel), nodeId);
      multi.publish(keys.departures, nodeId);
      await multi.exec();
    }).catch((error) =>
      this.#options.logger.warn("could not say goodbye to the cluster", {
        error: errorMessage(error),
      })
    );
    this.#release(Infinity);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isClosed) await this.leave();
  }
}

/** A node's stored report as a one-item list, or an empty one when it is missing or not a
 * report of this version's shape. The id is the one it is stored under. */
export function readReport(id: string, stored: string | null): NodeReport[] {
  if (stored === null) return [];
  let report: Partial<NodeReport>;
  try {
    report = JSON.parse(stored);
  } catch {
    return [];
  }
  const { connections, channels } = report;
  if (typeof connections?.anonymous !== "number" || typeof channels !== "number") return [];
  return [{ ...countersOf(new Metrics(0)), ...report, id } as NodeReport];
}
