/**
 * @module
 * The node's links to the masters of a Redis Cluster: one `RedisMasterLink` per master, with
 * sharded pub/sub (`SSUBSCRIBE`, `SPUBLISH`), so that a channel's broadcasts travel only
 * through the shard that owns its slot. A command goes to the master of its key's slot. The
 * slot map is read from the cluster every second (and at once when a master answers `MOVED`
 * or `CLUSTERDOWN`): a master that fails over, or slots that move, take their subscriptions
 * to the master that serves them now, and the subscriptions count as interrupted meanwhile
 * (history fills the gap). Each master's link proves its own subscription with pings on a
 * channel of its slots, so a wedged shard is found like a wedged single Redis.
 *
 * The client's own cluster client (`createCluster`) is not used, for the reasons the Sentinel
 * one is not (redis_master_link.ts): it queues commands while it rediscovers the cluster, where the
 * node must answer 503 at once, and it resubscribes behind its caller's back, where the node
 * must know that messages may have been missed.
 */

import { parseHostPort } from "../address.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import { BackendUnavailableError } from "./errors.ts";
import {
  type ClusterSeeds,
  type ClusterShard,
  readClusterShards,
  readShards,
  SLOT_COUNT,
  slotOf,
  tagIn,
} from "./redis_cluster_slots.ts";
import type {
  MessageListener,
  ReadyListener,
  RedisClient,
  RedisLink,
  RunOptions,
} from "./redis_link.ts";
import { RedisMasterLink } from "./redis_master_link.ts";
import type { RedisScript, ScriptCall } from "./redis_script.ts";
import { LinkEvents } from "./redis_link_events.ts";
import { ClusterSubscriptions } from "./redis_cluster_subscriptions.ts";

/** What a cluster link needs to know. */
export interface RedisClusterLinkOptions {
  readonly cluster: ClusterSeeds;
  /** The pub/sub channel this node's liveness pings go to on the master whose slots hold the
   * hash tag `tag`. */
  readonly pingChannel: (tag: string) => string;
  /** The name every connection gives itself (`CLIENT SETNAME`). */
  readonly clientName: string;
  readonly logger: Logger;
  /** How long a command may take before it fails, in milliseconds. Default 2000. */
  readonly commandTimeoutMs?: number;
  /** How often each master's subscription is proven alive, in milliseconds. Default 1000. */
  readonly pingIntervalMs?: number;
  /** How often the slot map is read again, in milliseconds. Default 1000. */
  readonly refreshIntervalMs?: number;
}

/** One master, the slots it serves now, and the link to it. */
interface Shard {
  readonly address: string;
  ranges: ClusterShard["ranges"];
  readonly link: RedisMasterLink;
  /** The hash tag of its ping channel, in its slots when the link was opened. */
  readonly tag: string;
}

/** Replies that say the slot map this node has is out of date. */
const STALE_MAP = /\b(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/;

/** Replies that say a command was not run because its slot moved (`MOVED`) or is moving to
 * another master (`ASK`, `TRYAGAIN`): it can be sent again, it cannot run twice. */
const NOT_RUN = /\b(MOVED|ASK|TRYAGAIN)\b/;

/** How long to wait before sending again a command refused while its slot migrates, in ms. */
const MIGRATION_RETRY_MS = 25;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The masters of a Redis Cluster, each command and channel sent to the one of its slot. */
export class RedisClusterLink implements RedisLink {
  readonly #options: RedisClusterLinkOptions;
  /** The masters, by address. */
  readonly #shards = new Map<string, Shard>();
  /** Slot → the master that serves it. */
  #owners: Array<Shard | undefined> = new Array(SLOT_COUNT);
  /** Every channel subscribed, on the master of its slot. */
  readonly #subscriptions = new ClusterSubscriptions<Shard>({
    ownerOf: (slot) => this.#owners[slot],
    isCurrent: (shard) => this.#shards.get(shard.address) === shard,
  });
  readonly #events: LinkEvents;
  readonly #timer: ReturnType<typeof setInterval>;
  #lastError = "reading the cluster's slots";
  #refreshing: Promise<void> | null = null;
  /** Whether the deployment has replicas: once seen, writes that ask for it wait for one
   * replica's acknowledgement (and fail while a master has none, as after a failover), on
   * every link, those opened before too: `CLUSTER SLOTS` lists no replica of a new cluster
   * until its master has written something. */
  #hasReplicas = false;
  #isClosed = false;

  constructor(options: RedisClusterLinkOptions) {
    this.#options = options;
    this.#events = new LinkEvents(options.logger, (message) => this.#redact(message));
    this.#timer = setInterval(() => this.#refresh(), options.refreshIntervalMs ?? 1000);
    this.#refresh();
  }

  problems(): string[] {
    if (this.#shards.size === 0) return [`redis: ${this.#lastError}`];
    return [...new Set([...this.#shards.values()].flatMap(({ link }) => link.problems()))];
  }

  get isReady(): boolean {
    return this.#shards.size > 0 && [...this.#shards.values()].every(({ link }) => link.isReady);
  }

  /** The masters' addresses, comma-separated, or null before the slot map is known. */
  get address(): string | null {
    return this.#shards.size === 0 ? null : [...this.#shards.keys()].sort().join(", ");
  }

  get publishCommand(): "SPUBLISH" {
    return "SPUBLISH";
  }

  async run<T>(
    command: (redis: RedisClient) => Promise<T>,
    { key = "", replicated = false }: RunOptions = {},
  ): Promise<T> {
    const deadline = Date.now() + (this.#options.commandTimeoutMs ?? 2000);
    for (;;) {
      const shard = this.#owners[slotOf(key)];
      if (shard === undefined) throw new BackendUnavailableError("redis", this.#lastError);
      try {
        return await shard.link.run(command, { replicated });
      } catch (error) {
        const message = errorMessage(error);
        const notRun = NOT_RUN.exec(message)?.[1];
        if (notRun === undefined || Date.now() > deadline) {
          if (STALE_MAP.test(message)) this.#refresh();
          throw error;
        }
        // The command did not run: its slot moved, or is moving. Follow the cluster, or give
        // the migration a moment, and send it again.
        await (notRun === "MOVED" ? this.#refresh() : delay(MIGRATION_RETRY_MS));
      }
    }
  }

  async runEach(script: RedisScript, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const byShard = new Map<string, number[]>();
    for (const [i, call] of calls.entries()) {
      const address = this.#owners[slotOf(call.keys[0] ?? "")]?.address ?? "";
      byShard.set(address, [...byShard.get(address) ?? [], i]);
    }
    const replies = new Array<unknown>(calls.length);
    await Promise.all([...byShard.values()].map(async (indices) => {
      // Not sent again on MOVED or ASK, unlike `run`: the calls before the refused one ran.
      const shard = this.#owners[slotOf(calls[indices[0]!]!.keys[0] ?? "")];
      if (shard === undefined) throw new BackendUnavailableError("redis", this.#lastError);
      const answered = await shard.link.run((redis) =>
        script.runEach(redis, indices.map((i) => calls[i]!))
      ).catch((error) => {
        if (STALE_MAP.test(errorMessage(error))) this.#refresh();
        throw error;
      });
      indices.forEach((index, j) => replies[index] = answered[j]);
    }));
    return replies;
  }

  onReady(listener: ReadyListener): void {
    this.#events.onReady(listener);
  }

  onSubscribed(listener: ReadyListener): void {
    this.#events.onSubscribed(listener);
  }

  onInterruption(interrupted: () => void, resubscribed: () => void): void {
    this.#events.onInterruption(interrupted, resubscribed);
  }

  onMessage(listener: MessageListener): void {
    this.#events.onMessage(listener);
  }

  subscribe(channels: readonly string[]): Promise<void> {
    return this.#subscriptions.add(channels);
  }

  unsubscribe(channels: readonly string[]): Promise<void> {
    return this.#subscriptions.remove(channels);
  }

  /** Reads the slot map again (once at a time) and follows what changed. */
  #refresh(): Promise<void> {
    if (this.#isClosed) return Promise.resolve();
    this.#refreshing ??= this.#readAndFollow().finally(() => this.#refreshing = null);
    return this.#refreshing;
  }

  async #readAndFollow(): Promise<void> {
    const { cluster, commandTimeoutMs = 2000, logger } = this.#options;
    let shards: ClusterShard[];
    try {
      // The masters known now first: after a failover, one of them knows the new map.
      shards = await this.#readOverLink() ??
        await readClusterShards(
          [...new Set([...this.#shards.keys(), ...cluster.seeds])],
          cluster,
          commandTimeoutMs,
        );
    } catch (error) {
      this.#lastError = `cluster: ${this.#redact(errorMessage(error))}`;
      return;
    }
    if (this.#isClosed) return;
    this.#hasReplicas ||= shards.some(({ replicas }) => replicas > 0);
    // A master that keeps its address keeps its link (slots moving in or out of it change
    // only where commands go), unless its ping channel's slot left it.
    const gone = [...this.#shards.values()].filter((old) => {
      const now = shards.find(({ address }) => address === old.address);
      return now === undefined || !isIn(slotOf(old.tag), now.ranges);
    });
    for (const old of gone) {
      this.#shards.delete(old.address);
      old.link[Symbol.asyncDispose]().catch(() => {});
    }
    for (const shard of shards) {
      const kept = this.#shards.get(shard.address);
      if (kept !== undefined) {
        kept.ranges = shard.ranges;
        continue;
      }
      this.#shards.set(shard.address, this.#open(shard));
      logger.info("redis cluster master followed", { address: shard.address });
    }
    const owners: Array<Shard | undefined> = new Array(SLOT_COUNT);
    for (const shard of this.#shards.values()) {
      for (const [from, to] of shard.ranges) owners.fill(shard, from, to + 1);
    }
    this.#owners = owners;
    const moved = this.#subscriptions.moved();
    const unplaced = this.#subscriptions.unplaced();
    if (moved.length === 0) return await this.#subscriptions.place(unplaced);
    logger.debug("redis cluster channels move to another master", { channels: moved.length });
    // Messages published while a channel moves may be missed: say so, then fill the gap.
    this.#events.interrupted();
    await this.#subscriptions.place([...moved, ...unplaced]);
    this.#events.resubscribed();
  }

  /** The slot map as a ready master says it over the link's own connection (no new one a
   * second), or null when none can say. */
  async #readOverLink(): Promise<ClusterShard[] | null> {
    for (const shard of this.#shards.values()) {
      if (!shard.link.isReady) continue;
      const { host } = parseHostPort(shard.address, 0)!;
      try {
        return await shard.link.run((redis) => readShards(redis, host));
      } catch {
        // Another master may answer.
      }
    }
    return null;
  }

  /** A master ended the subscription of `channel` (its slot moved): what it missed meanwhile
   * is filled from the history once it is subscribed where its slot is now. */
  #onDropped(channel: string): void {
    if (!this.#subscriptions.has(channel)) return;
    this.#subscriptions.unplace(channel);
    this.#events.interrupted();
    this.#refresh().finally(async () => {
      await this.#subscriptions.place([channel]);
      this.#events.resubscribed();
    });
  }

  /** A link to the master of `shard`, whose events are the cluster link's. */
  #open(shard: ClusterShard): Shard {
    const { cluster, clientName, logger, commandTimeoutMs, pingIntervalMs } = this.#options;
    const tag = tagIn(shard.ranges);
    const link = new RedisMasterLink({
      target: { url: urlOf(shard.address, cluster) },
      pingChannel: this.#options.pingChannel(tag),
      clientName,
      logger,
      isSharded: true,
      hasReplicas: () => this.#hasReplicas,
      onDropped: (channel) => this.#onDropped(channel),
      ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
      ...(pingIntervalMs === undefined ? {} : { pingIntervalMs }),
    });
    // Ready once every master is: the first steps (tokens, history) need them all.
    link.onReady(() => {
      if (this.isReady) this.#events.ready();
    });
    link.onSubscribed(() => this.#events.subscribed());
    link.onInterruption(
      () => this.#events.interrupted(),
      () => this.#events.resubscribed(),
    );
    link.onMessage((channel, message) => {
      this.#events.message(channel, message);
    });
    return { address: shard.address, ranges: shard.ranges, link, tag };
  }

  /** Never lets a password out in a message. */
  #redact(message: string): string {
    const { password } = this.#options.cluster;
    return password === null || password === "" ? message : message.replaceAll(password, "***");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    await this.#refreshing?.catch(() => {});
    await Promise.all([...this.#shards.values()].map(({ link }) => link[Symbol.asyncDispose]()));
    this.#shards.clear();
  }
}

/** Whether `slot` is in `ranges`. */
function isIn(slot: number, ranges: ClusterShard["ranges"]): boolean {
  return ranges.some(([from, to]) => slot >= from && slot <= to);
}

/** The URL of the master at `address`, with the cluster's credentials. */
function urlOf(address: string, { username, password, tls }: ClusterSeeds): string {
  const url = new URL(`${tls ? "rediss" : "redis"}://${address}`);
  if (username !== null) url.username = username;
  if (password !== null) url.password = password;
  return url.href;
}
