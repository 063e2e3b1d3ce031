/**
 * @module
 * Where the cluster's Redis is, from the options: a URL, a master's name and its sentinels, or
 * some servers of a Redis Cluster; and how the banner names it, never with a password.
 */

import type { Config } from "../config.ts";
import type { ClusterSeeds } from "./redis_cluster_slots.ts";
import { redisAddress, type RedisTarget } from "./redis_link.ts";

/** Where the cluster's Redis is: one master (by URL or through Sentinel), or a Redis
 * Cluster. */
export type BackendTarget = RedisTarget | { readonly cluster: ClusterSeeds };

/** The options that say where the cluster's Redis is. */
export type RedisConfig = Pick<
  Config,
  | "redisUrl"
  | "redisSentinel"
  | "redisCluster"
  | "redisSentinelMaster"
  | "redisSentinelPassword"
  | "redisUsername"
  | "redisPassword"
  | "redisTls"
>;

/** Where the cluster's Redis is, or null for a standalone server. */
export function redisTargetOf(config: RedisConfig): BackendTarget | null {
  if (config.redisUrl !== null) return { url: config.redisUrl };
  if (config.redisCluster.length > 0) {
    return {
      cluster: {
        seeds: config.redisCluster,
        username: config.redisUsername,
        password: config.redisPassword,
        tls: config.redisTls,
      },
    };
  }
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
    : "cluster" in target
    ? `Redis Cluster from ${target.cluster.seeds.join(", ")}`
    : `Redis master ${target.sentinel.master} from sentinels ${
      target.sentinel.sentinels.join(", ")
    }`;
  return `Cluster mode: node ${nodeId}, ${redis} (prefix ${config.redisPrefix})`;
}
