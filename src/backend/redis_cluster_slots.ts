/**
 * @module
 * Which master of a Redis Cluster serves which slots, read from any server of it
 * (`CLUSTER SLOTS`), and the slot of a key. With redis_connection.ts and redis_sentinel.ts,
 * the only modules that import the Redis client.
 */

import { createClient } from "@redis/client";
import calculateSlot from "cluster-key-slot";
import { hostPort, parseHostPort } from "../address.ts";
import type { RedisClient } from "./redis_connection.ts";

/** How many slots a Redis Cluster has. */
export const SLOT_COUNT = 16384;

/** Where a Redis Cluster is: some of its servers, and how to log in. */
export interface ClusterSeeds {
  /** `host:port` of some of its servers; any one that answers tells the whole map. */
  readonly seeds: readonly string[];
  readonly username: string | null;
  readonly password: string | null;
  readonly tls: boolean;
}

/** One master and the slot ranges it serves (inclusive). */
export interface ClusterShard {
  /** `host:port` of the master. */
  readonly address: string;
  readonly ranges: ReadonlyArray<readonly [from: number, to: number]>;
  /** How many replicas it has. */
  readonly replicas: number;
}

/** The slot of `key`, as Redis Cluster computes it (its hash tag, if any). */
export function slotOf(key: string): number {
  return calculateSlot(key);
}

/** The masters of the cluster as `servers` (tried in order) say it is: every slot served,
 * or a rejection naming what went wrong with each. */
export async function readClusterShards(
  servers: readonly string[],
  seeds: ClusterSeeds,
  timeoutMs: number,
): Promise<ClusterShard[]> {
  const failures: string[] = [];
  for (const server of servers) {
    try {
      return await readFrom(server, seeds, timeoutMs);
    } catch (error) {
      failures.push(`${server}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`no server of the cluster answered (${failures.join("; ")})`);
}

async function readFrom(
  server: string,
  { username, password, tls }: ClusterSeeds,
  timeoutMs: number,
): Promise<ClusterShard[]> {
  // Seeds and masters are `host:port`, as the options and CLUSTER SLOTS give them.
  const { host, port } = parseHostPort(server, 6379)!;
  const client = createClient({
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    ...(username === null ? {} : { username }),
    ...(password === null ? {} : { password }),
    socket: {
      host,
      port,
      connectTimeout: timeoutMs,
      reconnectStrategy: false,
      ...(tls ? { tls: true } : {}),
    },
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return await readShards(client, host);
  } finally {
    client.destroy();
  }
}

/** The masters of the cluster as the server `redis` is connected to says (`CLUSTER SLOTS`);
 * `host` is that server's, for a master it lists without one. Rejects when some slot has no
 * master. */
export async function readShards(
  redis: Pick<RedisClient, "clusterSlots">,
  host: string,
): Promise<ClusterShard[]> {
  const slots = await redis.clusterSlots();
  const shards = new Map<string, { ranges: Array<[number, number]>; replicas: number }>();
  let covered = 0;
  for (const { from, to, master, replicas } of slots) {
    // An empty host means the server we asked.
    const address = hostPort(master.host === "" ? host : master.host, master.port);
    const shard = shards.get(address) ?? { ranges: [], replicas: replicas.length };
    shard.ranges.push([from, to]);
    shards.set(address, shard);
    covered += to - from + 1;
  }
  if (covered < SLOT_COUNT) throw new Error(`only ${covered} of ${SLOT_COUNT} slots served`);
  return [...shards].map(([address, shard]) => ({ address, ...shard }));
}

/** A hash tag whose slot is in `ranges`: the smallest number, as text, that falls there. */
export function tagIn(ranges: ClusterShard["ranges"]): string {
  for (let i = 0;; i++) {
    const slot = slotOf(String(i));
    if (ranges.some(([from, to]) => slot >= from && slot <= to)) return String(i);
  }
}

/** `channels` grouped by slot: sharded pub/sub takes one slot's channels per command. */
export function bySlot(channels: readonly string[]): string[][] {
  const groups = new Map<number, string[]>();
  for (const channel of channels) {
    const slot = slotOf(channel);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [channel]);
    else group.push(channel);
  }
  return [...groups.values()];
}
