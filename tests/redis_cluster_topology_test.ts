/**
 * The Redis Cluster test topology (tests/redis_cluster_topology.ts) with real processes: it
 * forms, keys live on the master that owns their slot, sharded pub/sub travels through that
 * master, a master killed with SIGKILL is replaced by its replica (with a key the replica
 * acknowledged) and comes back as a replica, and a password guards every node.
 */

import assert from "node:assert/strict";
import calculateSlot from "cluster-key-slot";
import { withTimeout } from "./helpers.ts";
import { startRedisCluster } from "./redis_cluster_topology.ts";
import type { TopologyServer } from "./sentinel_topology.ts";

Deno.test("a cluster of three masters and three replicas: slots, keys, sharded pub/sub, failover", async (t) => {
  await using cluster = await startRedisCluster();

  await t.step("every node says ok and sees the three masters with a replica each", async () => {
    assert.equal(cluster.seedAddresses.length, 6);
    for (const node of cluster.nodes) {
      const info = (await node.cli("CLUSTER", "INFO")).map((line) => line.trim());
      assert.ok(info.includes("cluster_state:ok"), `${node.address}: ${info.join(" ")}`);
    }
    for (const [i, master] of cluster.masters.entries()) {
      assert.equal((await master.cli("ROLE"))[0], "master");
      assert.equal(await cluster.replicaOf(master), cluster.replicas[i]);
      const [role, , port] = await cluster.replicas[i]!.cli("ROLE");
      assert.deepEqual([role, Number(port)], ["slave", master.port]);
    }
  });

  await t.step(
    "a key set through the master of its slot is read there; others redirect",
    async () => {
      const key = "boreas:{chat}:history";
      const owner = await cluster.masterOf(key);
      assert.deepEqual(await owner.cli("CLUSTER", "KEYSLOT", key), [String(calculateSlot(key))]);
      assert.deepEqual(await owner.cli("SET", key, "kept"), ["OK"]);
      assert.deepEqual(await owner.cli("GET", key), ["kept"]);
      for (const other of cluster.masters.filter((master) => master !== owner)) {
        assert.deepEqual(await other.cli("GET", key), [
          `MOVED ${calculateSlot(key)} ${owner.address}`,
        ]);
      }
    },
  );

  await t.step("SSUBSCRIBE on the owner of the channel's slot receives an SPUBLISH", async () => {
    const channel = "boreas:{room-1}";
    const owner = await cluster.masterOf(channel);
    await using subscriber = await shardSubscriber(owner, channel);
    assert.deepEqual(await owner.cli("SPUBLISH", channel, "hello"), ["1"]);
    await subscriber.untilPrinted(`smessage\n${channel}\nhello`);
    const other = cluster.masters.find((master) => master !== owner)!;
    assert.match((await other.cli("SPUBLISH", channel, "lost"))[0]!, /^MOVED /);
  });

  await t.step(
    "a master killed is replaced by its replica, and comes back as its replica",
    async () => {
      const key = "boreas:{tokens}";
      const oldMaster = await cluster.masterOf(key);
      // One connection: WAIT counts the replicas that have what its own connection wrote, so
      // on a new one it answers at once. Just after a replica's full sync the master may hold
      // the stream back for up to a second (until the replica's next REPLCONF ACK): only a
      // WAIT after the SET on its connection proves the replica has the key.
      assert.deepEqual(
        await onOneConnection(oldMaster, [["SET", key, "before"], ["WAIT", "1", "5000"]]),
        ["OK", "1"],
      );
      await assert.rejects(cluster.untilFailedOver(oldMaster), TypeError);
      await oldMaster.kill();
      const killedAt = performance.now();
      const heir = await cluster.untilFailedOver(oldMaster, 10_000);
      const failoverMs = Math.round(performance.now() - killedAt);
      assert.equal(await cluster.masterOf(key), heir);
      assert.deepEqual(await heir.cli("GET", key), ["before"]);
      await oldMaster.start();
      await cluster.untilAgreed(10_000);
      const [role, , port, state] = await oldMaster.cli("ROLE");
      assert.deepEqual([role, Number(port), state], ["slave", heir.port, "connected"]);
      assert.equal(await cluster.replicaOf(heir), oldMaster);
      assert.ok(failoverMs < 10_000, `the failover took ${failoverMs} ms`);
    },
  );
});

Deno.test("with a password: every node asks for it, and the replicas sync with it", async () => {
  const password = "cluster-secret";
  await using cluster = await startRedisCluster({ password });
  // startRedisCluster waited for the replicas to be in sync: masterauth works.
  for (const replica of cluster.replicas) {
    assert.equal((await replica.cli("ROLE"))[3], "connected");
  }
  const [master] = cluster.masters;
  const { stdout } = await new Deno.Command("redis-cli", {
    args: ["-p", String(master!.port), "CLUSTER", "INFO"],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.match(new TextDecoder().decode(stdout), /^NOAUTH/);
});

/** Sends `commands` (no argument with a space) to `server` on one connection, in order;
 * returns the replies' lines. */
async function onOneConnection(
  server: TopologyServer,
  commands: readonly string[][],
): Promise<string[]> {
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(server.port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(commands.map((c) => c.join(" ") + "\n").join("")));
  await writer.close();
  const { stdout } = await child.output();
  return new TextDecoder().decode(stdout).trim().split("\n");
}

/** A `redis-cli SSUBSCRIBE` process, once it is subscribed. */
interface ShardSubscriber extends AsyncDisposable {
  /** Resolves once it has printed `text`. */
  untilPrinted(text: string): Promise<void>;
}

async function shardSubscriber(
  server: TopologyServer,
  channel: string,
): Promise<ShardSubscriber> {
  const child = new Deno.Command("redis-cli", {
    args: ["-p", String(server.port), "SSUBSCRIBE", channel],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  const untilPrinted = (text: string) =>
    withTimeout(
      (async () => {
        while (!printed.includes(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`redis-cli SSUBSCRIBE exited: ${printed}`);
          printed += value;
        }
      })(),
      `redis-cli SSUBSCRIBE to print ${JSON.stringify(text)}`,
    );
  const subscriber: ShardSubscriber = {
    untilPrinted,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await reader.cancel();
      await child.status;
    },
  };
  try {
    await untilPrinted(`ssubscribe\n${channel}\n1`);
  } catch (error) {
    await subscriber[Symbol.asyncDispose]();
    throw error;
  }
  return subscriber;
}
