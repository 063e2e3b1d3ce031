/**
 * Channel history through a Redis Cluster failover that loses the last writes, with real
 * processes (tests/redis_cluster_topology.ts): the replica of the channel's master is cut off (it
 * cannot log in again after the master drops it), the master takes three more broadcasts that
 * the subscribers receive, then is killed with SIGKILL, and the replica, promoted, lacks them.
 * No offset the subscribers saw is given out again, and both are told `recovered: false`.
 */

import assert from "node:assert/strict";
import { startHealthyNode, until, untilHealthy } from "./cluster_helpers.ts";
import {
  assertLostWritesTold,
  commandsOnOneConnection,
  HISTORY,
  publishPastTheReplica,
  subscribe,
} from "./history_failover_helpers.ts";
import { startRedisCluster } from "./redis_cluster_topology.ts";

/** How long the cluster may take to promote the replica, and the nodes to follow, in ms. */
const FAILOVER_MS = 15_000;

Deno.test("through a Redis Cluster failover that lost the last writes, no offset is given out twice and subscribers are told recovered: false", async () => {
  await using cluster = await startRedisCluster();
  const master = await cluster.masterOf("boreas:{news}:meta");
  const replica = await cluster.replicaOf(master);
  const node = (nodeId: string) =>
    startHealthyNode({ redisCluster: cluster.seedAddresses, nodeId, ...HISTORY });
  await using a = await node("node-a");
  await using b = await node("node-b");
  const token = await a.mintToken();
  const onA = await subscribe(a, token);
  await using _a = onA.subscriber;
  const onB = await subscribe(b, token);
  await using _b = onB.subscriber;

  const epoch = await publishPastTheReplica({ a, b, master }, onA, onB);
  assert.deepEqual(
    await commandsOnOneConnection(replica.port, ["READONLY", "HGET boreas:{news}:meta top"]),
    ["OK", "5"],
  );

  await master.kill();
  // The master had no connected replica when it died: its replica is watched, not the kill.
  await until(
    async () => (await replica.cli("ROLE"))[0] === "master",
    "the promotion",
    FAILOVER_MS,
  );
  for (const node of [a, b]) await untilHealthy(node, FAILOVER_MS);
  await assertLostWritesTold({ a, b, token, epoch }, onA, onB);
});
