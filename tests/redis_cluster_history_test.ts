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
  expectMessages,
  HISTORY,
  publish,
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

  const { epoch } = await publish(a, 1);
  for (let n = 2; n <= 5; n++) await publish(n % 2 === 0 ? b : a, n);
  assert.deepEqual(await master.cli("WAIT", "1", "2000"), ["1"], "the replica has 1 to 5");
  // The master starts asking for a password (of new connections: the nodes' stay open), then
  // drops the replica, which cannot log in again.
  assert.deepEqual(
    await commandsOnOneConnection(master.port, [
      "CONFIG SET requirepass cut-off",
      "CLIENT KILL TYPE replica",
    ]),
    ["OK", "1"],
  );
  for (let n = 6; n <= 8; n++) assert.equal((await publish(n % 2 === 0 ? b : a, n)).offset, n);
  for (const { events } of [onA, onB]) await expectMessages(events, [1, 2, 3, 4, 5, 6, 7, 8]);
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
