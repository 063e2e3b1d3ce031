/**
 * Cluster mode through Sentinel, with real processes: a master, one replica and three
 * sentinels (tests/sentinel_topology.ts), two nodes in this process, a subscriber on each and
 * a publisher sending about 200 broadcasts a second through both. The master is killed with
 * SIGKILL; the replica is promoted; the old master comes back as a replica; then a failover
 * the sentinels are asked for demotes a live master. No node restarts. Also: the passwords
 * stay out of what the node says, and with `--redis-url` a Redis turned replica is left.
 */

import assert from "node:assert/strict";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { clusterBanner } from "../src/backend/redis_target.ts";
import { createLogger } from "../src/log.ts";
import { startTestServer } from "./helpers.ts";
import { broadcastThrough, until, untilHealthy } from "./cluster_helpers.ts";
import {
  assertFailoverDelivery,
  assertTokensKept,
  endpoints,
  failOver,
  mint,
  roleOf,
  startPublisher,
  status,
  subscribeBoth,
} from "./failover_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { MASTER_NAME, startSentinelNode, startSentinelTopology } from "./sentinel_topology.ts";

/** How soon after the promotion every node must be healthy and delivering again, in ms. */
const RECOVERY_MS = 10_000;

Deno.test("the banner names the sentinels and the master, never a password", () => {
  const config = {
    ...DEFAULT_CONFIG,
    redisSentinel: ["10.0.0.1:26379", "[::1]:26380"],
    redisSentinelMaster: "main",
    redisSentinelPassword: "s3ntinel",
    redisPassword: "hunter2",
  };
  assert.equal(
    clusterBanner(config, "node-a"),
    "Cluster mode: node node-a, Redis master main from sentinels 10.0.0.1:26379, [::1]:26380 (prefix boreas)",
  );
  assert.equal(clusterBanner(DEFAULT_CONFIG, "node-a"), undefined);
});

Deno.test("with passwords: the node connects, and neither password reaches /health, the API or the log", async () => {
  const password = "m4ster-secret";
  const sentinelPassword = "s3ntinel-secret";
  await using topology = await startSentinelTopology({ password, sentinelPassword });
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    stdout: (line) => lines.push(line),
    stderr: (line) => lines.push(line),
  });
  const key = "operator-key";
  await using good = await startSentinelNode(topology, "good", {
    redisPassword: password,
    redisSentinelPassword: sentinelPassword,
    logger,
  });
  assert.equal(await mint(good), 200);
  // The wrong master password: the sentinels answer, the master refuses.
  await using bad = await startTestServer({
    redisSentinel: topology.sentinelAddresses,
    redisSentinelMaster: MASTER_NAME,
    redisSentinelPassword: sentinelPassword,
    redisPassword: `${password}-wrong`,
    apiKey: [key],
  }, { logger });
  const authorization = { authorization: `Bearer ${key}` };
  let health: { status?: string; errors?: string[] } = {};
  await until(async () => {
    const response = await bad.api("/health", { headers: authorization });
    health = await response.json();
    return response.status === 503 && /WRONGPASS/.test(health.errors?.[0] ?? "");
  }, "the wrong password to be reported");
  const minted = await bad.api("/token/", { method: "POST", headers: authorization });
  const answers = [JSON.stringify(health), await minted.text()];
  assert.equal(minted.status, 503);
  for (const text of [...answers, ...lines]) {
    assert.ok(!text.includes(password) && !text.includes(sentinelPassword), text);
  }
  assert.ok(lines.some((line) => /cannot reach redis/.test(line)), "the failure is logged");
});

Deno.test("through a Sentinel failover: 503 without a master, then delivery within 10 s, tokens kept, the old master a replica", async () => {
  await using topology = await startSentinelTopology();
  const [oldMaster, replica] = topology.servers;
  await using a = await startSentinelNode(topology, "node-a");
  await using b = await startSentinelNode(topology, "node-b");
  const nodes = [a, b];

  // Tokens minted and revoked while the replica is there: each waited for it.
  await using subscribers = await subscribeBoth(nodes, "busy");
  const { token, revoked, received } = subscribers;
  // /nodes/ names the master each node uses.
  await until(
    async () =>
      JSON.stringify(await endpoints(a)) ===
        JSON.stringify([`node-a=${oldMaster.address}`, `node-b=${oldMaster.address}`]),
    "both nodes to report the first master",
  );

  const publisher = startPublisher(nodes, "busy");
  const { sent, times, degraded } = await failOver(
    { nodes, master: oldMaster, heir: replica, publisher },
    { promotionMs: 15_000, recoveryMs: RECOVERY_MS },
  );
  assert.deepEqual([...degraded].sort(), ["node-a", "node-b"], "/health 503 on every node");
  // What was answered 200 is delivered: everywhere before the kill and once the nodes are
  // healthy again; in between, at least to the subscriber of the node that answered (a node
  // whose own subscription is not back answers 503).
  await assertFailoverDelivery(sent, received, times);
  assert.equal(subscribers.closes(), 0, "the WebSockets stayed open");

  // Tokens: the one minted before the kill authenticates; the revoked one stays revoked; the
  // new master has no replica yet, so a mint answers 503.
  await assertTokensKept({ on: b, mintOn: a }, { token, revoked });

  // The old master comes back; the sentinels make it a replica; no node goes to it.
  await oldMaster.start();
  await until(
    async () =>
      (await oldMaster.cli("ROLE")).join(" ").startsWith(
        `slave 127.0.0.1 ${replica.port} connected`,
      ),
    "the old master to replicate the new one",
  );
  assert.equal(await mint(b), 200);
  for (const node of nodes) {
    assert.deepEqual((await broadcastThrough(node, "busy", { seq: -1 })).body, { recipients: 2 });
  }
  await until(() => received.every((seqs) => seqs.at(-1) === -1), "the last broadcasts");
  assert.deepEqual(await endpoints(b), [`node-a=${replica.address}`, `node-b=${replica.address}`]);
  const clients = async (server: typeof replica) =>
    (await server.cli("CLIENT", "LIST")).filter((line) => /name=boreas:/.test(line)).length;
  assert.equal(await clients(oldMaster), 0, "no node connected to the old master");
  assert.equal(await clients(replica), 4, "each node's two connections on the new master");

  // A failover asked of the sentinels, the master alive: the nodes leave it as it is demoted.
  // The sentinels may accept the request and then give it up (the old master not yet a good
  // replica in their eyes): it is asked again every 2 s until the old master is promoted.
  let askedAt = 0;
  await until(
    async () => {
      const isPromoted = (await roleOf(oldMaster)) === "master";
      if (!isPromoted && Date.now() - askedAt > 2_000) {
        askedAt = Date.now();
        await topology.sentinels[0]!.cli("SENTINEL", "FAILOVER", MASTER_NAME).catch(() => []);
      }
      return isPromoted &&
        JSON.stringify(await endpoints(a)) ===
          JSON.stringify([`node-a=${oldMaster.address}`, `node-b=${oldMaster.address}`]);
    },
    "both nodes to follow the master back",
    // Not the promise under test (that is the kill's, above): a requested failover's timing is
    // the sentinels', which a loaded machine slows down.
    3 * RECOVERY_MS,
  );
  await until(async () => (await roleOf(replica)) === "slave", "the master to be demoted");
  assert.equal(await clients(replica), 0, "no node connected to the demoted master");
  // Each node's subscription is proven on the master it follows before it publishes again.
  for (const node of nodes) await untilHealthy(node, RECOVERY_MS);
  assert.equal(await mint(a), 200);
  for (const node of nodes) {
    assert.deepEqual((await broadcastThrough(node, "busy", { seq: -2 })).body, { recipients: 2 });
  }
  await until(() => received.every((seqs) => seqs.at(-1) === -2), "the broadcasts after");
  assert.equal(subscribers.closes(), 0, "the WebSockets stayed open");
});

Deno.test("with --redis-url, a Redis that turns into a replica is left, and used again once it is a master", async () => {
  await using redis = await startRedis();
  await using other = await startRedis();
  const key = "operator-key";
  const authorization = { authorization: `Bearer ${key}` };
  const lines: string[] = [];
  const logger = createLogger({ stdout: () => {}, stderr: (line) => lines.push(line) });
  await using node = await startTestServer(
    { redisUrl: redis.url, nodeId: "a", apiKey: [key] },
    { logger },
  );
  await untilHealthy(node);
  await redis.cli("REPLICAOF", "127.0.0.1", String(other.port));
  // Its next write (a heartbeat, at most a second away) is refused READONLY: the node leaves,
  // and each time it connects again, it finds a replica (ROLE) and leaves it.
  await until(async () => (await status(node.api("/health"))) === 503, "the node to leave it");
  const minted = node.api("/token/", { method: "POST", headers: authorization });
  assert.equal(await status(minted), 503);
  await until(
    async () =>
      /"redis: (127\.0\.0\.1:\d+ is a replica, not the master|READONLY .*)"/.test(
        await (await node.api("/health", { headers: authorization })).text(),
      ),
    "the node to refuse the replica",
  );
  await until(
    () => lines.some((line) => /is a replica, not the master/.test(line)),
    "the node to find a replica where it reconnected (ROLE), and say so",
  );
  assert.equal(await redis.cli("REPLICAOF", "NO", "ONE"), "OK");
  await untilHealthy(node);
  assert.equal(await status(node.api("/token/", { method: "POST", headers: authorization })), 200);
});
