/**
 * @module
 * What crosses nodes, chosen in one place: without `--redis-url` or `--redis-sentinel`, this
 * process's hub and token store are the whole server; with either, tokens, fan-out, membership
 * and blocked users go through Redis. The API and the WebSocket code use the `Cluster` and never
 * know which one they have.
 */

import type { Config } from "../config.ts";
import type { Hub } from "../hub.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type History, MemoryHistory, type Position } from "../history.ts";
import type { Block } from "../blocks.ts";
import type { TokenGrant } from "../grants.ts";
import type { BlockJournal, TokenJournal } from "../token_journal.ts";
import { type TokenRegistry, TokenStore } from "../tokens.ts";
import { LocalUsers, type UserControl } from "../users.ts";
import { type Broker, LocalBroker } from "./broker.ts";
import { RedisKeys } from "./keys.ts";
import { LocalMembership, type Membership } from "./membership.ts";
import { RedisBroker } from "./redis_broker.ts";
import { RedisHistory } from "./redis_history.ts";
import { redisAddress, RedisLink, type RedisTarget } from "./redis_link.ts";
import { RedisMembership } from "./redis_membership.ts";
import { provideOnConnect, RedisTokenRegistry } from "./redis_tokens.ts";
import { RedisOccupancy } from "./redis_occupancy.ts";
import { RedisUsers } from "./redis_users.ts";
import type { EventSink } from "../webhooks/events.ts";
import { LocalOccupancy } from "../webhooks/occupancy.ts";
import {
  type Members,
  type MembersOptions,
  MemoryMembers,
  nativeMemberFormat,
} from "../members.ts";
import { RedisMembers } from "./redis_members.ts";
import { type EventCache, MemoryEventCache } from "./event_cache.ts";
import { RedisEventCache } from "./redis_event_cache.ts";

export { clientReason, ClusterUnavailableError, UNAVAILABLE_REASON } from "./errors.ts";

/** The state every node shares, and its health. */
export interface Cluster {
  readonly tokens: TokenRegistry;
  /** Closing users' connections and blocking them, on every node. */
  readonly users: UserControl;
  readonly broker: Broker;
  readonly membership: Membership;
  /** The channels' kept messages (`--history-size`), or null when history is off. */
  readonly history: History | null;
  /** Who is in the channels with join and leave events, or null when none has them. */
  readonly members: Members | null;
  /** Starts following the members of another format's channels (a Pusher app's presence
   * channels), kept apart from the others under `kind` (see `RedisKeys.memberChannels`);
   * closed with the cluster. */
  addMembers(kind: string, options: MembersOptions): Members;
  /** The last frame of the channels that keep one (a Pusher app's `cache-` channels). */
  readonly cache: EventCache;
  /** This node's id: `--node-id`, or generated per process; standalone too. */
  readonly nodeId: string;
  /** What is wrong with the shared state, one `redis: ...` message each; empty when healthy
   * (always, standalone). */
  problems(): string[];
  /** Says a shutdown has begun: the other nodes go on counting this node's connections as
   * they were while they are closed, until `close()` removes them with the node at once. */
  startLeaving(): void;
  /** Leaves the cluster and closes its connections. Call after every WebSocket is closed. */
  close(): Promise<void>;
}

/** What `createCluster` needs besides the configuration. */
export interface ClusterDeps {
  readonly hub: Hub;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Tokens valid from the start (a provider's and, standalone, the token store's). */
  readonly tokens: Iterable<string>;
  /** Standalone only: where token changes and blocks are kept. */
  readonly journal?: (TokenJournal & BlockJournal) | undefined;
  /** Standalone only: what the startup tokens minted with grants grant. */
  readonly grants?: ReadonlyMap<string, TokenGrant> | undefined;
  /** Standalone only: the users blocked at startup (the token store's). */
  readonly blocks?: ReadonlyMap<string, Block> | undefined;
  /** Where channel.occupied and channel.vacated go; none when webhooks are off. */
  readonly events?: EventSink | undefined;
}

/** The options that say where the cluster's Redis is. */
type RedisConfig = Pick<
  Config,
  | "redisUrl"
  | "redisSentinel"
  | "redisSentinelMaster"
  | "redisSentinelPassword"
  | "redisUsername"
  | "redisPassword"
  | "redisTls"
>;

/** Where the cluster's Redis is, or null for a standalone server. */
export function redisTargetOf(config: RedisConfig): RedisTarget | null {
  if (config.redisUrl !== null) return { url: config.redisUrl };
  if (config.redisSentinel.length === 0 || config.redisSentinelMaster === null) return null;
  return {
    sentinel: {
      sentinels: config.redisSentinel,
      master: config.redisSentinelMaster,
      password: config.redisSentinelPassword,
      tls: config.redisTls,
    },
    username: config.redisUsername,
    password: config.redisPassword,
  };
}

/** The banner line of cluster mode, or undefined standalone; never shows a password. */
export function clusterBanner(
  config: RedisConfig & Pick<Config, "redisPrefix">,
  nodeId: string,
): string | undefined {
  const target = redisTargetOf(config);
  if (target === null) return undefined;
  const redis = "url" in target
    ? `Redis at ${redisAddress(target.url)}`
    : `Redis master ${target.sentinel.master} from sentinels ${
      target.sentinel.sentinels.join(", ")
    }`;
  return `Cluster mode: node ${nodeId}, ${redis} (prefix ${config.redisPrefix})`;
}

/** A node id unique per process: a short random hex string. */
export function generateNodeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Builds the standalone state, or joins the cluster of `config.redisUrl` (or of the master
 * `config.redisSentinel` names). Never waits for Redis: a node whose Redis is unreachable
 * starts degraded and connects when it can. */
export function createCluster(
  config:
    & RedisConfig
    & Pick<
      Config,
      | "redisPrefix"
      | "nodeId"
      | "nodeTimeout"
      | "historySize"
      | "historyTtl"
      | "historyMaxBytes"
      | "webhookVacateDelay"
      | "joinLeave"
      | "leaveDelay"
      | "maxMembersListed"
    >,
  deps: ClusterDeps,
): Cluster {
  const { hub, metrics, logger } = deps;
  const nodeId = config.nodeId ?? generateNodeId();
  const isJoinLeaveOn = config.joinLeave.length > 0;
  const membersOptions = {
    format: nativeMemberFormat(hub, config.joinLeave),
    leaveDelayMs: config.leaveDelay * 1000,
    maxMembersListed: config.maxMembersListed,
  };
  const target = redisTargetOf(config);
  if (target === null) {
    const tokens = new TokenStore(deps.tokens, deps.journal, deps.grants);
    const delayMs = config.webhookVacateDelay * 1000;
    const occupancy = deps.events === undefined
      ? undefined
      : new LocalOccupancy(hub, deps.events, { delayMs });
    const history = config.historySize === 0 ? null : new MemoryHistory({
      size: config.historySize,
      ttlMs: config.historyTtl * 1000,
      maxBytes: config.historyMaxBytes,
      hasSubscribers: (channel) => hub.memberCount(channel) > 0,
    });
    // A channel's last subscriber left: its epoch goes too, unless it keeps messages.
    const stopReleasing = history === null ? () => {} : hub.onChange(({ channels }) => {
      for (const channel of channels) history.release(channel);
    });
    const members = isJoinLeaveOn
      ? new MemoryMembers(hub, { metrics, options: membersOptions })
      : null;
    const added: Members[] = [];
    return {
      tokens,
      users: new LocalUsers(hub, { journal: deps.journal, initial: deps.blocks }),
      broker: new LocalBroker(hub, metrics, history),
      membership: new LocalMembership(hub, { metrics, nodeId }),
      history,
      members,
      addMembers: (_kind, options) => {
        const more = new MemoryMembers(hub, { metrics, options });
        added.push(more);
        return more;
      },
      cache: new MemoryEventCache(),
      nodeId,
      problems: () => [],
      startLeaving: () => {},
      close: async () => {
        stopReleasing();
        history?.[Symbol.dispose]();
        occupancy?.[Symbol.dispose]();
        await members?.close();
        for (const more of added) await more.close();
      },
    };
  }
  const keys = new RedisKeys(config.redisPrefix);
  const link = new RedisLink({
    target,
    pingChannel: keys.pings(nodeId),
    clientName: `${config.redisPrefix}:${nodeId}`,
    logger,
  });
  const tokens = new RedisTokenRegistry(link, keys);
  provideOnConnect(tokens, link, { tokens: [...deps.tokens], logger });
  const membership = new RedisMembership(link, keys, {
    hub,
    metrics,
    options: { nodeId, nodeTimeoutSeconds: config.nodeTimeout, logger },
  });
  const ttlMs = config.historyTtl * 1000;
  // The broker follows each channel from where the first join on this node found it.
  let follow = (_positions: ReadonlyMap<string, Position>) => {};
  const history = config.historySize === 0 ? null : new RedisHistory(link, keys, {
    size: config.historySize,
    ttlMs,
    maxBytes: config.historyMaxBytes,
    onPositions: (positions) => follow(positions),
  });
  if (history !== null) {
    // Channels nobody subscribes to any more keep no epoch unless they keep messages.
    const forget = (channels: Iterable<string>) => history.forget([...channels]).catch(() => {});
    membership.onLeft(forget);
    membership.onReaped(forget);
  }
  const broker = new RedisBroker(link, keys, {
    hub,
    metrics,
    membership,
    history: history === null ? null : { history, size: config.historySize, ttlMs },
  });
  follow = (positions) => broker.follow(positions);
  const redisMembers = (kind: string, options: MembersOptions) =>
    new RedisMembers(link, keys, {
      hub,
      membership,
      mark: (except) => broker.exceptMark(except),
      options: { ...options, kind, nodeId, prefix: config.redisPrefix, logger },
    });
  const members = isJoinLeaveOn ? redisMembers("", membersOptions) : null;
  const added: Members[] = [];
  const occupancy = deps.events === undefined ? undefined : new RedisOccupancy(link, keys, {
    hub,
    membership,
    sink: deps.events,
    options: { prefix: config.redisPrefix, delayMs: config.webhookVacateDelay * 1000, logger },
  });
  const users = new RedisUsers(link, keys, { hub, membership });
  const sweeper = sweepTokens(tokens);
  // Served channels keep their epochs while their messages expire; a third of the ttl between
  // renewals leaves room for a missed one.
  const epochTimer = history === null ? undefined : setInterval(() => {
    history.keepEpochs(hub.snapshot().channels.map(([channel]) => channel)).catch(() => {});
  }, ttlMs / 3);
  // Revocations announced while this node could not hear them: close those connections now.
  link.onSubscribed(() => tokens.replayMissed(hub.activeTokens()));
  // Blocks announced while this node could not hear them, or not checked for a JWT let in
  // while Redis was unreachable: close those connections now.
  link.onReady(() => users.replayMissed());
  link.onSubscribed(() => users.replayMissed());
  return {
    tokens,
    users,
    broker,
    membership,
    history,
    members,
    addMembers: (kind, options) => {
      const more = redisMembers(kind, options);
      added.push(more);
      return more;
    },
    cache: new RedisEventCache(link, keys),
    nodeId,
    problems: () => {
      const membershipProblem = membership.problem();
      return [...link.problems(), ...(membershipProblem === null ? [] : [membershipProblem])];
    },
    startLeaving: () => membership.stopWriting(),
    close: async () => {
      clearInterval(epochTimer);
      clearInterval(sweeper);
      occupancy?.[Symbol.dispose]();
      // Before the node leaves: what its users' connections did until now still counts.
      await members?.close();
      for (const more of added) await more.close();
      const left = await membership.leave();
      // Its counts reached Redis only as it left: now the channels it alone served are vacated.
      if (left.size > 0) await occupancy?.check([...left]);
      await link[Symbol.asyncDispose]();
    },
  };
}

/** How often expired tokens are forgotten, in milliseconds. */
const TOKEN_SWEEP_MS = 30_000;

/** Forgets `tokens`' expired tokens every `TOKEN_SWEEP_MS`, so that they do not pile up in
 * Redis when nothing lists them. (A standalone store sweeps as it mints.) */
function sweepTokens(tokens: TokenRegistry): ReturnType<typeof setInterval> {
  return setInterval(() => tokens.sweepExpired().catch(() => {}), TOKEN_SWEEP_MS);
}
