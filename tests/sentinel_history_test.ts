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
  commandsOnOneConnection,
  expectMessages,
  HISTORY,
  publish,
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
