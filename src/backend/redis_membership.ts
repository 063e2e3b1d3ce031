/**
 * @module
 * Cluster membership in Redis. Each node mirrors its own hub there: one hash entry per open
 * connection (its token and channels) and, per channel, its number of subscribers. Changes are
 * written in batches, one MULTI at a time, so a burst of joins costs one round trip, and only
 * once the node is registered live, so that what it wrote is counted. Cluster-wide figures
 * come from one reading of the live nodes (`readOtherNodes`); recipients leave out the nodes
 * `NodeLiveness` knows dead. After Redis comes back (with or without its data) the node
 * writes its whole mirror again. A node that is shutting down stops writing, so that the
 * others count it as it was until it leaves, all at once.
 */

import type { Hub, HubChange, HubSnapshot, Presence, Subscriber } from "../hub.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { errorMessage } from "../text.ts";
import type { RedisKeys } from "./keys.ts";
import {
  type Census,
  type Membership,
  type NodeReport,
  nodeReportOf,
  sumCounters,
} from "./membership.ts";
import { type MirrorEntry, type NodeReading, readOtherNodes } from "./redis_census.ts";
import type { RedisLink } from "./redis_link.ts";
import { NodeLiveness } from "./redis_liveness.ts";

/** How long to wait before writing again after Redis refused a write. */
const RETRY_MS = 1_000;

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
  readonly #leftListeners: Array<(channels: readonly string[]) => void> = [];
  readonly #stopListening: () => void;
  /** Set from a (re)connection until its first heartbeat: the mirror waits for it. */
  #isRegistering = true;
  /** Set once a shutdown has begun: the mirror stays as it was until `leave()`. */
  #isLeaving = false;
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
      report: () => nodeReportOf(options.nodeId, { hub, metrics, redis: link.address }),
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
    if (link.isReady) this.#onReconnect();
  }

  /** Calls `listener` each time the whole mirror was written again (Redis lost it). */
  onRewritten(listener: () => void): void {
    this.#rewrittenListeners.push(listener);
  }

  /** Calls `listener` with the channels this node has no subscriber of any more, once Redis
   * no longer counts it in them. */
  onLeft(listener: (channels: readonly string[]) => void): void {
    this.#leftListeners.push(listener);
  }

  /** Calls `listener` with a dead node's channels once its counts were removed. */
  onReaped(listener: (channels: ReadonlySet<string>) => void): void {
    this.#reapedListeners.push(listener);
  }

  async recipients(channel: string): Promise<number> {
    const key = this.#keys.channelNodes(channel);
    const flat = await this.#link.run(
      (redis) => redis.sendCommand<string[]>(["HGETALL", key]),
      { key },
    );
    return this.sumLivePairs(flat);
  }

  /** Sums the per-node counts of a channel's node hash, read as a flat list (field, value,
   * ...) as a script or a raw HGETALL returns it, leaving out the nodes known dead. A node this
   * one has not yet seen in a heartbeat counts: it has just joined. */
  sumLivePairs(flat: readonly string[]): number {
    let sum = 0;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (!this.#liveness.isDead(flat[i]!)) sum += Number(flat[i + 1]);
    }
    return sum;
  }

  async snapshot(): Promise<HubSnapshot> {
    const { others, local } = await this.#gather();
    return sumSnapshot(local, others);
  }

  async census(): Promise<Census> {
    const { others, local, own } = await this.#gather();
    const nodes = [own, ...others.map(({ report }) => report)];
    return { nodes, hub: sumSnapshot(local, others), counters: sumCounters(nodes) };
  }

  async channelTokens(channel: string): Promise<string[]> {
    const { others } = await this.#gather();
    const tokens = new Set(this.#hub.channelTokens(channel));
    for (const [token, joined] of others.flatMap(({ entries }) => entries)) {
      if (token !== null && joined.includes(channel)) tokens.add(token);
    }
    return [...tokens];
  }

  async presence(channel: string): Promise<Presence> {
    const { others } = await this.#gather();
    const local = this.#hub.presence(channel);
    let connections = local.connections;
    const users = new Set(local.users);
    for (const [, joined, user] of others.flatMap(({ entries }) => entries)) {
      if (!joined.includes(channel)) continue;
      connections++;
      if (user !== undefined) users.add(user);
    }
    return { connections, users: [...users] };
  }

  async userConnections(user: string): Promise<number> {
    const { others } = await this.#gather();
    const entries = others.flatMap(({ entries }) => entries);
    return this.#hub.userConnections(user) + entries.filter((entry) => entry[2] === user).length;
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

  /** The other live nodes as one script read them, and this node's own hub and report. */
  async #gather(): Promise<{ others: NodeReading[]; local: HubSnapshot; own: NodeReport }> {
    const { nodeId } = this.#options;
    const others = await this.#link.run((redis) => readOtherNodes(redis, this.#keys, nodeId), {
      key: this.#keys.nodes,
    });
    const own = nodeReportOf(nodeId, {
      hub: this.#hub,
      metrics: this.#metrics,
      redis: this.#link.address,
    });
    return { others, local: this.#hub.snapshot(), own };
  }

  /** Stops writing this node's changes to its mirror: the other nodes go on counting its
   * connections as they were until `leave()` removes them with the node, in one step. Called
   * when a shutdown begins, before the connections are closed. */
  stopWriting(): void {
    this.#isLeaving = true;
  }

  #record({ subscriber, channels }: HubChange): void {
    this.#dirtyConnections.add(subscriber);
    for (const channel of channels) this.#dirtyChannels.add(channel);
    this.#changes++;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#flushing !== undefined || this.#isClosed || this.#isLeaving) return;
    if (!this.#link.isReady || this.#isRegistering) return;
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
    const mirror = keys.nodeConnections(nodeId);
    // The mirror is in the nodes' slot, each channel's count in the channel's: one MULTI for
    // the mirror, one command per channel, all written at once.
    const mirrored = this.#link.run(async (redis) => {
      const multi = redis.multi();
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
      await multi.exec();
    }, { key: mirror });
    await Promise.all([
      mirrored,
      ...[...channels].map((channel) => {
        const count = hub.memberCount(channel);
        const key = keys.channelNodes(channel);
        return this.#link.run(
          (redis) => count > 0 ? redis.hSet(key, nodeId, count) : redis.hDel(key, nodeId),
          { key },
        );
      }),
    ]);
    // Only now: a failed write is retried under the same ids.
    for (const subscriber of removed) this.#ids.delete(subscriber);
    const left = [...channels].filter((channel) => hub.memberCount(channel) === 0);
    await this.#link.unsubscribe(left.map((channel) => keys.broadcastChannel(channel)));
    if (left.length > 0) { for (const listener of this.#leftListeners) listener(left); }
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
    // Redis may have restarted empty: written before the heartbeat, the mirror would be of a
    // node the others do not count yet, after its clients were told `ok`.
    this.#isRegistering = true;
    await this.#liveness.beat();
    this.#isRegistering = false;
    this.#schedule();
  }

  /** The channels `node`'s mirrored connections had joined. */
  async #channelsOf(node: string): Promise<Set<string>> {
    const key = this.#keys.nodeConnections(node);
    const entries = await this.#link.run((redis) => redis.hVals(key), { key });
    const channels = new Set<string>();
    for (const entry of entries) {
      for (const channel of (JSON.parse(entry) as MirrorEntry)[1]) channels.add(channel);
    }
    return channels;
  }

  /** Says goodbye: removes this node's mirror, report and liveness in one transaction, so the
   * others stop counting it and listing it at once. Called after every connection is closed.
   * Resolves to the channels whose counts it removed this node from (none when Redis could
   * not be told). */
  async leave(): Promise<ReadonlySet<string>> {
    this.#isClosed = true;
    clearTimeout(this.#retryTimer);
    this.#liveness.stop();
    this.#stopListening();
    await this.#flushing;
    const { nodeId } = this.#options;
    const keys = this.#keys;
    const channels = new Set<string>(this.#dirtyChannels);
    for (const [channel] of this.#hub.snapshot().channels) channels.add(channel);
    // The node's records share the nodes' slot; each channel's count is in the channel's.
    const isGone = await Promise.all([
      this.#link.run(async (redis) => {
        const multi = redis.multi();
        multi.del([keys.nodeConnections(nodeId), keys.nodeCounters(nodeId)]);
        multi.zRem(keys.nodes, nodeId);
        await multi.exec();
      }, { key: keys.nodes }),
      ...[...channels].map((channel) => {
        const key = keys.channelNodes(channel);
        return this.#link.run((redis) => redis.hDel(key, nodeId), { key });
      }),
    ]).then(() => true, (error) => {
      this.#options.logger.warn("could not say goodbye to the cluster", {
        error: errorMessage(error),
      });
      return false;
    });
    this.#release(Infinity);
    return isGone ? channels : new Set();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isClosed) await this.leave();
  }
}

/** `local` and the entries of `others`, summed in the recipient dump's shape. */
function sumSnapshot(local: HubSnapshot, others: readonly NodeReading[]): HubSnapshot {
  let anonymous = local.anonymous;
  const tokens = new Map(local.tokens);
  const channels = new Map(local.channels);
  for (const [token, joined] of others.flatMap(({ entries }) => entries)) {
    if (token === null) anonymous++;
    else tokens.set(token, (tokens.get(token) ?? 0) + 1);
    for (const channel of joined) channels.set(channel, (channels.get(channel) ?? 0) + 1);
  }
  return { anonymous, tokens: [...tokens], channels: [...channels] };
}
