/**
 * @module
 * Cluster membership in Redis. Each node mirrors its own hub there: one hash entry per open
 * connection (its token and channels) and, per channel, its number of subscribers. Changes are
 * written in batches, one MULTI at a time, so a burst of joins costs one round trip. Nodes
 * prove they are alive with a heartbeat scored by Redis's own clock; a node that misses it
 * stops counting at once, and the next heartbeat of any node removes what it left behind. After
 * Redis comes back (with or without its data) the node writes its whole mirror again.
 */

import type { Hub, HubChange, HubSnapshot, Subscriber } from "../hub.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { errorMessage } from "../text.ts";
import type { RedisKeys } from "./keys.ts";
import { countersOf, type Membership, type NodeCounters } from "./membership.ts";
import type { RedisLink } from "./redis_link.ts";

// KEYS: nodes. ARGV: node id, ms until it expires. Returns [was it new (1/0), live ids, dead
// ids], judged by Redis's clock so that the nodes' clocks do not matter.
const HEARTBEAT_SCRIPT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local added = redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[1])
local live = redis.call('ZRANGEBYSCORE', KEYS[1], ms, '+inf')
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ms)
return {added, live, dead}
`;

// KEYS: nodes, the dead node's connections and counters, then its channels' node hashes.
// ARGV: the dead node's id. Removes it only if it is still expired (it may be back).
const REAP_SCRIPT = `
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) >= ms then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 4, #KEYS do redis.call('HDEL', KEYS[i], ARGV[1]) end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;

/** What a connection's mirror entry holds: its token (null while anonymous) and channels. */
type MirrorEntry = [token: string | null, channels: string[]];

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
  #live: string[];
  /** Nodes whose liveness had expired at the last heartbeat, until they are reaped. */
  #dead = new Set<string>();
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #stopListening: () => void;
  #isClosed = false;

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
    this.#live = [options.nodeId];
    this.#stopListening = hub.onChange((change) => this.#record(change));
    link.onReady(() => this.#onReconnect());
    link.subscribe([keys.departures]);
    link.onMessage((channel, node) => {
      if (channel === keys.departures && node !== options.nodeId) {
        this.#live = this.#live.filter((live) => live !== node);
      }
    });
    // Beat every second (more often for short timeouts) and expire one beat before the timeout:
    // a live node is never seen dead, and a dead one stops counting within the timeout.
    this.#timer = setInterval(() => this.#beat(), this.#beatMs);
  }

  get #beatMs(): number {
    return Math.min(1000, this.#options.nodeTimeoutSeconds * 1000 / 3);
  }

  nodes(): readonly string[] {
    return this.#live;
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
      if (!this.#dead.has(node)) sum += Number(count);
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

  async counters(): Promise<NodeCounters> {
    const others = this.#live.filter((node) => node !== this.#options.nodeId);
    const sum: Record<string, number> = { ...countersOf(this.#metrics) };
    if (others.length === 0) return sum as unknown as NodeCounters;
    const reports = await this.#link.run((redis) =>
      redis.mGet(others.map((node) => this.#keys.nodeCounters(node)))
    );
    for (const report of reports) {
      if (report === null) continue;
      for (const [name, value] of Object.entries(JSON.parse(report) as Record<string, number>)) {
        if (name in sum) sum[name] = sum[name]! + value;
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
    const others = this.#live.filter((node) => node !== this.#options.nodeId);
    const local = this.#hub.snapshot();
    // Alone as far as this node knows; but without Redis it cannot know, so it says so.
    if (others.length === 0) {
      return await this.#link.run(() => Promise.resolve({ others: [] as MirrorEntry[], local }));
    }
    const lists = await this.#link.run(async (redis) => {
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
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      if (this.#written < this.#changes || this.#needsRewrite) this.#schedule();
    });
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
      this.#release(change);
    } catch (error) {
      for (const subscriber of connections) this.#dirtyConnections.add(subscriber);
      for (const channel of channels) this.#dirtyChannels.add(channel);
      this.#needsRewrite ||= isRewrite;
      this.#options.logger.warn("cluster membership not written; retrying on reconnect", {
        error: errorMessage(error),
      });
      // Nothing more can be done until Redis is back; callers are not kept waiting.
      this.#release(change);
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
          multi.hSet(mirror, id, JSON.stringify([session.token, [...session.channels]]));
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
    await this.#beat();
    this.#schedule();
  }

  /** Renews this node's liveness, learns who else is live, and reaps the dead. */
  async #beat(): Promise<void> {
    if (this.#isClosed || !this.#link.isReady) return;
    const { nodeId } = this.#options;
    const keys = this.#keys;
    const timeoutMs = this.#options.nodeTimeoutSeconds * 1000;
    try {
      const [added, live, dead] = await this.#link.run(async (redis) => {
        await redis.set(keys.nodeCounters(nodeId), JSON.stringify(countersOf(this.#metrics)), {
          PX: Math.ceil(timeoutMs),
        });
        return await redis.eval(HEARTBEAT_SCRIPT, {
          keys: [keys.nodes],
          arguments: [nodeId, String(Math.ceil(timeoutMs - this.#beatMs))],
        }) as [number, string[], string[]];
      });
      this.#live = [nodeId, ...live.filter((node) => node !== nodeId)];
      this.#dead = new Set(dead);
      if (added === 1 && !this.#needsRewrite) {
        // Redis lost us (a restart, or we were reaped while cut off): write everything again.
        this.#needsRewrite = true;
        this.#schedule();
      }
      for (const node of dead) await this.#reap(node);
    } catch (error) {
      this.#options.logger.debug("cluster heartbeat failed", { error: errorMessage(error) });
    }
  }

  async #reap(node: string): Promise<void> {
    const keys = this.#keys;
    const entries = await this.#link.run((redis) => redis.hVals(keys.nodeConnections(node)));
    const channels = new Set<string>();
    for (const entry of entries) {
      for (const channel of (JSON.parse(entry) as MirrorEntry)[1]) channels.add(channel);
    }
    const reaped = await this.#link.run((redis) =>
      redis.eval(REAP_SCRIPT, {
        keys: [
          keys.nodes,
          keys.nodeConnections(node),
          keys.nodeCounters(node),
          ...[...channels].map((channel) => keys.channelNodes(channel)),
        ],
        arguments: [node],
      })
    );
    if (reaped === 1) this.#options.logger.info("forgot a node that stopped", { node });
  }

  /** Says goodbye: removes this node's mirror and liveness, so the others stop counting it at
   * once. Called after every connection is closed. */
  async leave(): Promise<void> {
    this.#isClosed = true;
    clearInterval(this.#timer);
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
