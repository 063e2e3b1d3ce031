/**
 * Cluster mode on Redis Cluster, with real processes: three masters and three replicas
 * (tests/redis_cluster_topology.ts), two nodes in this process, a subscriber on each and a
 * publisher sending about 200 broadcasts a second through both, on a channel in the slots of
 * the master that also holds the tokens. That master is killed with SIGKILL; its replica is
 * promoted; the old master comes back as a replica. No node restarts.
 */

import assert from "node:assert/strict";
import { broadcastThrough, startHealthyNode, until } from "./cluster_helpers.ts";
import {
  assertFailoverDelivery,
  assertTokensKept,
  endpoints,
  failOver,
  mint,
  startPublisher,
  subscribeBoth,
} from "./failover_helpers.ts";
import { type RedisCluster, startRedisCluster } from "./redis_cluster_topology.ts";

/** How soon after the promotion every node must be healthy and delivering again, in ms. */
const RECOVERY_MS = 10_000;

/** A channel whose keys are in the slots of the master that holds the tokens. */
async function channelWithTheTokens(cluster: RedisCluster): Promise<string> {
  const tokens = await cluster.masterOf("boreas:{tokens}");
  for (let i = 0;; i++) {
    if (await cluster.masterOf(`boreas:{busy${i}}:nodes`) === tokens) return `busy${i}`;
  }
}

Deno.test("through a Redis Cluster failover: 503 without the master, then delivery within 10 s, tokens kept, the old master a replica", async () => {
  await using cluster = await startRedisCluster();
  const channel = await channelWithTheTokens(cluster);
  const oldMaster = await cluster.masterOf(`boreas:{${channel}}:nodes`);
  const heir = await cluster.replicaOf(oldMaster);
  await using a = await startHealthyNode({ redisCluster: cluster.seedAddresses, nodeId: "node-a" });
  await using b = await startHealthyNode({ redisCluster: cluster.seedAddresses, nodeId: "node-b" });
  const nodes = [a, b];

  // Minted and revoked while the replica is there: each waited for it (WAIT 1).
  await using subscribers = await subscribeBoth(nodes, channel);
  const { token, revoked, received } = subscribers;
  const masters = cluster.masters.map(({ address }) => address).sort().join(", ");
  assert.deepEqual(await endpoints(a), [`node-a=${masters}`, `node-b=${masters}`]);

  const publisher = startPublisher(nodes, channel);
  const { sent, times, degraded } = await failOver(
    { nodes, master: oldMaster, heir, publisher },
    { promotionMs: 15_000, recoveryMs: RECOVERY_MS },
  );
  assert.deepEqual([...degraded].sort(), ["node-a", "node-b"], "/health 503 on every node");
  assert.equal(await cluster.untilFailedOver(oldMaster, 15_000), heir);
  // What was answered 200 is delivered: everywhere before the kill and once the nodes are
  // healthy again; in between, at least to the subscriber of the node that answered (a node
  // whose own subscription is not back answers 503).
  await assertFailoverDelivery(sent, received, times);
  assert.equal(subscribers.closes(), 0, "the WebSockets stayed open");

  // Tokens: the one minted before the kill authenticates; the revoked one stays revoked; the
  // new master has no replica yet, so a mint answers 503.
  await assertTokensKept({ on: b, mintOn: a }, { token, revoked });

  // The old master comes back as the new one's replica; no node connects to it.
  await oldMaster.start();
  await cluster.untilAgreed();
  assert.equal(await mint(b), 200);
  for (const node of nodes) {
    assert.deepEqual((await broadcastThrough(node, channel, { seq: -1 })).body, { recipients: 2 });
  }
  await until(() => received.every((seqs) => seqs.at(-1) === -1), "the last broadcasts");
  const now = [...cluster.masters.filter((master) => master !== oldMaster), heir]
    .map(({ address }) => address).sort().join(", ");
  assert.deepEqual(await endpoints(b), [`node-a=${now}`, `node-b=${now}`]);
  const clients = async (server: typeof oldMaster) =>
    (await server.cli("CLIENT", "LIST")).filter((line) => /name=boreas:/.test(line)).length;
  assert.equal(await clients(oldMaster), 0, "no node connected to the old master");
  assert.equal(await clients(heir), 4, "each node's two connections on the new master");
  assert.equal(subscribers.closes(), 0, "the WebSockets stayed open");
});
