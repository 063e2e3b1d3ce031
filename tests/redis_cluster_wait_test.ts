/**
 * Redis Cluster with real processes: a node that started while `CLUSTER SLOTS` listed no
 * replica (Redis 7.0 lists a replica only once its replication offset moved: after its master
 * wrote something, or after the master's replication ping, every 10 s by default) waits for
 * them (`WAIT 1`) once they are listed, on the links it opened before too.
 */

import assert from "node:assert/strict";
import { startHealthyNode, until } from "./cluster_helpers.ts";
import { startRedisCluster } from "./redis_cluster_topology.ts";
import type { TopologyServer } from "./sentinel_topology.ts";

/** How many `WAIT`s `master` has run. */
async function waitCalls(master: TopologyServer): Promise<number> {
  const line = (await master.cli("INFO", "commandstats"))
    .find((entry) => entry.startsWith("cmdstat_wait:"));
  return Number(/calls=(\d+)/.exec(line ?? "")?.[1] ?? 0);
}

/** How many replicas `CLUSTER SLOTS` lists on `server`, all slots together. */
async function listedReplicas(server: TopologyServer): Promise<number> {
  const slots = JSON.parse(
    (await server.cli("--json", "CLUSTER", "SLOTS")).join("\n"),
  ) as unknown[][];
  return slots.reduce((sum, range) => sum + range.length - 3, 0);
}

Deno.test("a node started before the cluster lists its replicas waits for them once listed", async () => {
  // No replication ping for the test's length: only writes get the replicas listed.
  await using cluster = await startRedisCluster({ settings: ["repl-ping-replica-period 3600"] });
  const master = await cluster.masterOf("boreas:{tokens}");
  // What the node reads when it starts: masters only.
  assert.equal(await listedReplicas(master), 0);
  await using node = await startHealthyNode({
    redisCluster: cluster.seedAddresses,
    nodeId: "node-a",
  });
  assert.equal(await waitCalls(master), 0);

  // The node's own writes (its liveness records every second, the tokens) get the replicas
  // listed within a few seconds; from the next read of the slots on, each mint waits for one.
  await until(
    async () => {
      await node.mintToken();
      return await waitCalls(master) > 0;
    },
    "a mint that waits for a replica",
    15_000,
  );
  assert.ok(await listedReplicas(master) > 0);
});
