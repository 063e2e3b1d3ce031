/**
 * The Redis key shapes: the keys that one script or MULTI changes together fall in one Redis
 * Cluster slot, and a Redis written by Boreas 0.1 (its token keys spread over several slots)
 * is renamed in place when a node connects, its tokens still valid.
 */

import assert from "node:assert/strict";
import calculateSlot from "cluster-key-slot";
import { RedisKeys } from "../src/backend/keys.ts";
import { encodeGrant, OPEN_GRANT } from "../src/grants.ts";
import { joinWith, startNode, until } from "./cluster_helpers.ts";
import { TestClient } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startRedis } from "./redis_server.ts";

/** The one slot of `keys`, or a failure naming the keys of each slot. */
function oneSlot(keys: readonly string[]): number {
  const slots = new Set(keys.map((key) => calculateSlot(key)));
  assert.equal(slots.size, 1, `keys in several slots: ${keys.join(", ")}`);
  return [...slots][0]!;
}

Deno.test("the tokens' keys share one slot, a user's set of tokens among them", () => {
  const keys = new RedisKeys("boreas");
  const [before, after] = keys.userTokensAround;
  oneSlot([
    keys.tokens,
    keys.providedTokens,
    keys.tokenGrants,
    keys.expiringTokens,
    keys.revokedTokens,
    keys.userTokens("ivan"),
    keys.userTokens("{weird}:user"),
    `${before}ivan${after}`,
  ]);
});

Deno.test("the live nodes' records share one slot, whatever the node's id", () => {
  const keys = new RedisKeys("boreas");
  oneSlot([
    keys.nodes,
    ...["a", "{b}", "node-7"].flatMap((node) => [
      keys.nodeConnections(node),
      keys.nodeCounters(node),
    ]),
  ]);
});

Deno.test("every user's block shares one slot with the announcements of blocks", () => {
  const keys = new RedisKeys("boreas", { isSharded: true });
  oneSlot([keys.userChanges, keys.userBlock("ivan"), keys.userBlock("{weird}:user")]);
});

Deno.test("sharded, each pub/sub channel is in the slot of the keys it goes with", () => {
  const keys = new RedisKeys("boreas", { isSharded: true });
  oneSlot([keys.revocations, keys.tokens]);
  oneSlot([keys.broadcastChannel("room:1"), keys.channelNodes("room:1")]);
  assert.equal(keys.channelOf(keys.broadcastChannel("room:1")), "room:1");
  assert.equal(keys.channelOf(keys.revocations), null);
});

Deno.test("a channel's keys share its slot, and two channels may not", () => {
  const keys = new RedisKeys("boreas");
  const slotOf = (channel: string) =>
    oneSlot([
      keys.channelNodes(channel),
      keys.occupied(channel),
      keys.members(channel),
      keys.memberInfos(channel),
      keys.nodeMembers(channel, "a"),
      keys.lastFrame(channel),
      keys.historyMeta(channel),
      keys.historyStream(channel),
    ]);
  assert.notEqual(slotOf("room:1"), slotOf("room:2"));
});

Deno.test("a node renames the token and block keys Boreas 0.1 left, and their tokens still work", async () => {
  await using redis = await startRedis();
  const grant = encodeGrant({ ...OPEN_GRANT, user: "ivan" });
  await redis.cli("ZADD", "boreas:tokens", "1", "old-token");
  await redis.cli("HSET", "boreas:tokens:grants", "old-token", grant);
  await redis.cli("SADD", "boreas:user:{ivan}:tokens", "old-token");
  await redis.cli("ZADD", "boreas:tokens:revoked", "+inf", "revoked-token");
  await redis.cli("SET", "boreas:user:{bob}:block", '{"expires_at": null}');
  await using node = await startNode(redis.url, "a");
  await until(async () => await redis.cli("EXISTS", "boreas:{tokens}") === "1", "the rename");
  assert.equal(
    await redis.cli("EXISTS", "boreas:tokens", "boreas:tokens:grants", "boreas:user:{ivan}:tokens"),
    "0",
  );
  assert.equal(await redis.cli("ZSCORE", "boreas:{tokens}:revoked", "revoked-token"), "inf");
  assert.equal(await redis.cli("GET", "boreas:{users}:bob:block"), '{"expires_at": null}');
  await using client = await TestClient.connect(node.wsUrl);
  await joinWith(client, "old-token", ["news"]);
  const user = await readJson(await node.api("/users/ivan/"), 200);
  assert.equal((user.value as { tokens: number }).tokens, 1);
});
