/**
 * @module
 * What the nodes of a test Redis Cluster say about it, through `redis-cli`: each node's view of
 * the shards (`CLUSTER SHARDS`), its `cluster_state`, and waits until the views agree. Used by
 * tests/redis_cluster_topology.ts; knows nothing of starting or stopping servers.
 */

import { until } from "./cluster_helpers.ts";
import type { TopologyServer } from "./sentinel_topology.ts";

/** A shard that owns slots, as one node sees it. */
export interface Shard {
  /** `[start, end]` pairs of slot ranges. */
  readonly slots: readonly number[];
  /** Its master, then its replicas by port; failed nodes left out. */
  readonly nodes: readonly { readonly port: number; readonly role: "master" | "replica" }[];
}

/** A shard of `CLUSTER SHARDS` as `redis-cli --json` prints it, in part. */
interface ShardReply {
  readonly slots: number[];
  readonly nodes: { port: number; role: "master" | "replica"; health: string }[];
}

/** The shards that own slots as `server` sees them, sorted by first slot; null when it does
 * not answer. Health and offsets are left out, so that the views of two nodes that agree
 * compare equal. */
export async function shardsOf(server: TopologyServer): Promise<Shard[] | null> {
  const json = (await server.cli("--json", "CLUSTER", "SHARDS")).join("\n");
  let replies: ShardReply[];
  try {
    replies = JSON.parse(json);
  } catch {
    return null;
  }
  if (!Array.isArray(replies)) return null;
  return replies
    .filter((reply) => reply.slots.length > 0)
    .map((reply) => ({
      slots: reply.slots,
      nodes: reply.nodes
        .filter((node) => node.health !== "failed")
        .map(({ port, role }) => ({ port, role }))
        .sort((a, b) => a.role.localeCompare(b.role) || a.port - b.port),
    }))
    .sort((a, b) => a.slots[0]! - b.slots[0]!);
}

/** The shards as the first of `servers` that answers sees them. */
export async function firstShards(servers: readonly TopologyServer[]): Promise<Shard[]> {
  for (const server of servers) {
    const shards = await shardsOf(server);
    if (shards !== null) return shards;
  }
  throw new Error("no node of the cluster answers");
}

/** Whether `server` says `cluster_state:ok`. */
export async function isStateOk(server: TopologyServer): Promise<boolean> {
  return (await server.cli("CLUSTER", "INFO")).some((line) => line.trim() === "cluster_state:ok");
}

/** The port of the shard's master. */
export function masterPortOf(shard: Shard): number | undefined {
  return shard.nodes.find((node) => node.role === "master")?.port;
}

/** The ports of the shard's replicas, lowest first. */
export function replicaPortsOf(shard: Shard): number[] {
  return shard.nodes.filter((node) => node.role === "replica").map((node) => node.port);
}

/** Whether `slot` is in one of the shard's ranges. */
export function ownsSlot(shard: Shard, slot: number): boolean {
  for (let i = 0; i + 1 < shard.slots.length; i += 2) {
    if (shard.slots[i]! <= slot && slot <= shard.slots[i + 1]!) return true;
  }
  return false;
}

/** Waits until every one of `servers` says `cluster_state:ok` and lists the same shards, in
 * which each of `servers` is a master or a replica in sync; returns those shards. */
export async function untilAgreed(
  servers: readonly TopologyServer[],
  ms: number,
): Promise<Shard[]> {
  let agreed: Shard[] = [];
  await until(
    async () => {
      const views = new Set<string>();
      // One node at a time, so that a round stops at the first that is not there yet.
      for (const server of servers) {
        if (!await isStateOk(server)) return false;
        const shards = await shardsOf(server);
        if (shards === null) return false;
        views.add(JSON.stringify(shards));
        agreed = shards;
      }
      const listed = agreed.flatMap((shard) => shard.nodes.map((node) => node.port));
      if (views.size !== 1 || listed.length !== servers.length) return false;
      return await areInSync(servers, agreed.flatMap(replicaPortsOf));
    },
    "the cluster's nodes to agree on its masters, replicas and slots",
    ms,
  );
  return agreed;
}

/** Whether each of `servers` on one of `replicaPorts` says its link to its master is up. */
async function areInSync(
  servers: readonly TopologyServer[],
  replicaPorts: readonly number[],
): Promise<boolean> {
  for (const server of servers.filter((candidate) => replicaPorts.includes(candidate.port))) {
    if ((await server.cli("ROLE"))[3] !== "connected") return false;
  }
  return true;
}

/** Whether every one of `survivors` says `cluster_state:ok` and sees the master on `heirPort`
 * owning slots and the one on `oldPort` none. */
export async function isTakenOver(
  survivors: readonly TopologyServer[],
  { heirPort, oldPort }: { heirPort: number; oldPort: number },
): Promise<boolean> {
  for (const server of survivors) {
    if (!await isStateOk(server)) return false;
    const owners = (await shardsOf(server) ?? []).map(masterPortOf);
    if (!owners.includes(heirPort) || owners.includes(oldPort)) return false;
  }
  return true;
}
