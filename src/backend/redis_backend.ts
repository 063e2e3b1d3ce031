/**
 * @module
 * The Redis backend: tokens, fan-out, membership, history and blocked users shared through one
 * Redis master (given by URL, or found through Sentinel), or through the masters of a Redis
 * Cluster.
 */

import type { Backend, BackendConfig, BackendDeps, BackendParts } from "./backend.ts";
import type { Position } from "./history.ts";
import type { Members, MembersOptions } from "./members.ts";
import type { TokenRegistry } from "./tokens.ts";
import { unavailableReason } from "./errors.ts";
import { RedisKeys } from "./keys.ts";
import { RedisBroker } from "./redis_broker.ts";
import { RedisEventCache } from "./redis_event_cache.ts";
import { RedisHistory } from "./redis_history.ts";
import { RedisClusterLink } from "./redis_cluster_link.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisMasterLink } from "./redis_master_link.ts";
import type { BackendTarget } from "./redis_target.ts";
import { RedisMembers } from "./redis_members.ts";
import { RedisMembership } from "./redis_membership.ts";
import { RedisOccupancy } from "./redis_occupancy.ts";
import { provideOnConnect, RedisTokenRegistry } from "./redis_tokens.ts";
import { RedisUsers } from "./redis_users.ts";

/** Joins the cluster of the Redis `target` names. */
export function redisBackend(
  target: BackendTarget,
  { config, deps, parts }: { config: BackendConfig; deps: BackendDeps; parts: BackendParts },
): Backend {
  const { hub, metrics, logger } = deps;
  const { nodeId, membersOptions } = parts;
  const isJoinLeaveOn = config.joinLeave.length > 0;
  const isCluster = "cluster" in target;
  const keys = new RedisKeys(config.redisPrefix, { isSharded: isCluster });
  const clientName = `${config.redisPrefix}:${nodeId}`;
  const link: RedisLink = isCluster
    ? new RedisClusterLink({
      cluster: target.cluster,
      pingChannel: (tag) => keys.pings(nodeId, tag),
      clientName,
      logger,
    })
    : new RedisMasterLink({ target, pingChannel: keys.pings(nodeId), clientName, logger });
  const tokens = new RedisTokenRegistry(link, keys);
  provideOnConnect(tokens, link, { keys, tokens: [...deps.tokens], logger });
  const membership = new RedisMembership(link, keys, {
    hub,
    metrics,
    options: { nodeId, nodeTimeoutSeconds: config.nodeTimeout, logger },
  });
  const ttlMs = config.historyTtl * 1000;
  // The broker follows each channel from where the first join on this node found it.
  let follow = (_positions: ReadonlyMap<string, Position>) => {};
  let seen = (_channel: string): readonly Position[] => [];
  const history = config.historySize === 0 ? null : new RedisHistory(link, keys, {
    size: config.historySize,
    ttlMs,
    maxBytes: config.historyMaxBytes,
    onPositions: (positions) => follow(positions),
    seen: (channel) => seen(channel),
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
  seen = (channel) => broker.seen(channel);
  const redisMembers = (kind: string, options: MembersOptions) =>
    new RedisMembers(link, keys, {
      hub,
      membership,
      mark: (except) => broker.exceptMark(except),
      options: { ...options, kind, nodeId, logger },
    });
  const members = isJoinLeaveOn ? redisMembers("", membersOptions) : null;
  const added: Members[] = [];
  const occupancy = deps.events === undefined ? undefined : new RedisOccupancy(link, keys, {
    hub,
    membership,
    sink: deps.events,
    options: { delayMs: config.webhookVacateDelay * 1000, logger },
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
    unavailableReason: unavailableReason("redis"),
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
