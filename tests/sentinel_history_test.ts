/**
 * Channel history through a Sentinel failover that loses the last writes, with real processes
 * (tests/sentinel_topology.ts): the replica is cut off from the master (it cannot log in again
 * after the master drops it), the master takes three more broadcasts that the subscribers
 * receive, then is killed with SIGKILL, and the replica, promoted, lacks them. No offset the
 * subscribers saw is given out again, and both are told `recovered: false`.
 */

import assert from "node:assert/strict";
import { until, untilHealthy } from "./cluster_helpers.ts";
import {
  assertLostWritesTold,
  HISTORY,
  publishPastTheReplica,
  subscribe,
} from "./history_failover_helpers.ts";
import { startSentinelNode, startSentinelTopology } from "./sentinel_topology.ts";

/** How long the sentinels may take to promote the replica, and the nodes to follow, in ms. */
const FAILOVER_MS = 15_000;

Deno.test("through a Sentinel failover that lost the last writes, no offset is given out twice and subscribers are told recovered: false", async () => {
  await using topology = await startSentinelTopology();
  const [master, replica] = topology.servers;
  await using a = await startSentinelNode(topology, "node-a", HISTORY);
  await using b = await startSentinelNode(topology, "node-b", HISTORY);
  const token = await a.mintToken();
  const onA = await subscribe(a, token);
  await using _a = onA.subscriber;
  const onB = await subscribe(b, token);
  await using _b = onB.subscriber;

  const epoch = await publishPastTheReplica({ a, b, master }, onA, onB);
  assert.deepEqual(await replica.cli("HGET", "boreas:{news}:meta", "top"), ["5"]);

  await master.kill();
  await until(
    async () => (await replica.cli("ROLE"))[0] === "master",
    "the promotion",
    FAILOVER_MS,
  );
  for (const node of [a, b]) await untilHealthy(node, FAILOVER_MS);
  await assertLostWritesTold({ a, b, token, epoch }, onA, onB);
});
