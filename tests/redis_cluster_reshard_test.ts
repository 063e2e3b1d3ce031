/**
 * Slots that move on a Redis Cluster take their subscriptions along: a busy channel's slot is
 * migrated by hand (`CLUSTER SETSLOT ... IMPORTING/MIGRATING`, `MIGRATE`, `SETSLOT ... NODE`)
 * from its master to another while a publisher keeps broadcasting through both nodes, and a
 * subscriber on each node, with history on, receives every offset exactly once, in order.
 */

import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import { broadcastThrough, startHealthyNode, until } from "./cluster_helpers.ts";
import { startRedisCluster } from "./redis_cluster_topology.ts";
import type { TopologyServer } from "./sentinel_topology.ts";

const CHANNEL = "moving";

/** Moves `slot` from `from` to `to`, keys and all, and tells every master. */
async function migrateSlot(
  slot: string,
  { from, to, masters }: { from: TopologyServer; to: TopologyServer; masters: TopologyServer[] },
): Promise<void> {
  const [fromId] = await from.cli("CLUSTER", "MYID");
  const [toId] = await to.cli("CLUSTER", "MYID");
  await to.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", fromId!);
  await from.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", toId!);
  for (;;) {
    const keys = (await from.cli("CLUSTER", "GETKEYSINSLOT", slot, "100")).filter(Boolean);
    if (keys.length === 0) break;
    const [host, port] = [to.address.split(":")[0]!, String(to.port)];
    await from.cli("MIGRATE", host, port, "", "0", "5000", "KEYS", ...keys);
  }
  for (const master of [to, from, ...masters]) {
    await master.cli("CLUSTER", "SETSLOT", slot, "NODE", toId!);
  }
}

/** A subscriber's received offsets of `CHANNEL`, in order. */
function recordOffsets(client: TestClient): number[] {
  const offsets: number[] = [];
  client.socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string);
    if (frame.channel === CHANNEL) offsets.push(frame.offset);
  });
  return offsets;
}

Deno.test("a channel whose slot moves to another master keeps delivering every offset once, in order", async () => {
  await using cluster = await startRedisCluster();
  const config = { redisCluster: cluster.seedAddresses, historySize: 1000, historyTtl: 60 };
  const start = (nodeId: string) => startHealthyNode({ ...config, nodeId });
  await using a = await start("a");
  await using b = await start("b");
  const token = await a.mintToken();
  await using onA = await TestClient.connect(a.wsUrl);
  await using onB = await TestClient.connect(b.wsUrl);
  for (const client of [onA, onB]) {
    assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
    const joined = await client.request({ channels: { join: [CHANNEL], leave: [] } });
    assert.equal((joined as { ok?: boolean }).ok, true);
  }
  const received = [recordOffsets(onA), recordOffsets(onB)];

  const key = `boreas:{${CHANNEL}}:nodes`;
  const from = await cluster.masterOf(key);
  const to = cluster.masters.find((master) => master !== from)!;
  const [slot] = await from.cli("CLUSTER", "KEYSLOT", key);
  const offsets: number[] = [];
  const publish = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const node = offsets.length % 2 === 0 ? a : b;
      const { status, body } = await broadcastThrough(node, CHANNEL, i);
      // While the slot is between masters a publish may be refused (503), never half done.
      if (status === 200) offsets.push((body as { offset: number }).offset);
      else assert.equal(status, 503);
    }
  };
  await publish(20);
  const moving = migrateSlot(slot!, { from, to, masters: [...cluster.masters] });
  await Promise.all([moving, publish(40)]);
  assert.equal(await cluster.masterOf(key), to);
  // Once every node follows the new owner, broadcasts go through as before.
  await until(async () => (await broadcastThrough(a, CHANNEL, -1, true)).status === 200, "a");
  await publish(20);
  assert.ok(offsets.length >= 40, `${offsets.length} broadcasts answered 200`);
  assert.deepEqual(offsets, offsets.toSorted((x, y) => x - y), "offsets given out in order");
  const last = offsets.at(-1)!;
  await until(() => received.every((seen) => seen.at(-1) === last), "the last broadcast");
  for (const seen of received) {
    assert.deepEqual(seen, Array.from({ length: last }, (_, i) => i + 1), "every offset once");
  }
});
