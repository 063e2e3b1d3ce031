/**
 * @module
 * The one place that knows which backend runs: without `--redis-url` or `--redis-sentinel`,
 * this process's memory is the whole server (memory_backend.ts); with either, tokens, fan-out,
 * membership, history and blocked users go through Redis (redis_backend.ts). Adding a backend
 * is a branch here; docs/architecture.md gives the recipe.
 */

import type { Backend, BackendConfig, BackendDeps } from "./backend.ts";
import { memoryBackend } from "./memory_backend.ts";
import { nativeMemberFormat } from "./members.ts";
import { redisBackend } from "./redis_backend.ts";
import { redisTargetOf } from "./redis_target.ts";

/** A node id unique per process: a short random hex string. */
export function generateNodeId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Builds the standalone state, or joins the cluster of `config.redisUrl` (or of the master
 * `config.redisSentinel` names). Never waits for a backend: a node whose Redis is unreachable
 * starts degraded and connects when it can. */
export function composeBackend(config: BackendConfig, deps: BackendDeps): Backend {
  const parts = {
    nodeId: config.nodeId ?? generateNodeId(),
    membersOptions: {
      format: nativeMemberFormat(deps.hub, config.joinLeave),
      leaveDelayMs: config.leaveDelay * 1000,
      maxMembersListed: config.maxMembersListed,
    },
  };
  const target = redisTargetOf(config);
  return target === null
    ? memoryBackend(config, deps, parts)
    : redisBackend(target, { config, deps, parts });
}
