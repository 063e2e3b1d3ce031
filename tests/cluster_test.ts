/**
 * Cluster mode with real nodes (servers in this process) on a real redis-server of the test's
 * own: shared tokens, fan-out, counts, revocation, and what happens when Redis goes away.
 */

import assert from "node:assert/strict";
import { TestClient, withTimeout } from "./helpers.ts";
import { readErrors, readJson, TOKEN_PATTERN } from "./integration_helpers.ts";
import {
  broadcastThrough,
  getJson,
  joinWith,
  startNode,
  until,
  untilHealthy,
  untilNodesSee,
} from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { startProxy } from "./tcp_proxy.ts";

Deno.test("a token minted on one node authenticates on the others at once", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  const token = await a.mintToken();
  assert.match(token, TOKEN_PATTERN);
  await using client = await TestClient.connect(b.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
  assert.equal(await (await b.api("/debug/token-dump")).text(), `${token}\n`);
  assert.deepEqual(await client.request({ access_token: "unknown" }, 2), {
    ref: 2,
    error: "access_token: unknown token",
  });
});

Deno.test("a broadcast through one node reaches every subscriber on every node, once, in order", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  await using c = await startNode(redis.url, "c");
  await untilNodesSee([a, b, c]);
  const token = await a.mintToken();
  await using onA = await TestClient.connect(a.wsUrl);
  await using onC1 = await TestClient.connect(c.wsUrl);
  await using onC2 = await TestClient.connect(c.wsUrl);
  await using elsewhere = await TestClient.connect(b.wsUrl);
  for (const client of [onA, onC1, onC2]) await joinWith(client, token, ["room"]);
  await joinWith(elsewhere, token, ["other"]);

  assert.deepEqual(await broadcastThrough(b, "room", "x", true), {
    status: 200,
    body: { recipients: 3 },
  });
  for (let n = 1; n <= 20; n++) {
    assert.deepEqual(await broadcastThrough(b, "room", { n }), {
      status: 200,
      body: { recipients: 3 },
    });
  }
  for (const client of [onA, onC1, onC2]) {
    for (let n = 1; n <= 20; n++) {
      assert.deepEqual(await client.next(`message ${n}`), { message: { n }, channel: "room" });
    }
  }
  // Exactly once: the next broadcast is the next thing each of them receives.
  await broadcastThrough(a, "room", "last");
  for (const client of [onA, onC1, onC2]) {
    assert.deepEqual(await client.next(), { message: "last", channel: "room" });
  }
  assert.equal(elsewhere.pending.length, 0);
});

Deno.test("a node subscribes in Redis only to the channels it has subscribers for", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  const token = await a.mintToken();
  await using client = await TestClient.connect(a.wsUrl);
  await joinWith(client, token, ["only-a", "x:y"]);
  const channels = async () => (await redis.cli("PUBSUB", "CHANNELS", "boreas:*")).split("\n");
  assert.deepEqual((await channels()).sort(), ["boreas:only-a", "boreas:x:y"]);
  assert.equal(await redis.cli("PUBSUB", "NUMSUB", "boreas:only-a"), "boreas:only-a\n1");
  assert.deepEqual(await client.request({ channels: { join: [], leave: ["only-a"] } }), {
    ref: 1,
    ok: true,
  });
  await until(async () => (await channels()).join() === "boreas:x:y", "only-a unsubscribed");
  assert.deepEqual((await broadcastThrough(b, "only-a", 1)).body, { recipients: 0 });
});

Deno.test("the cluster's lists, dump and stats count every node's connections", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  await untilNodesSee([a, b]);
  const [t1, t2] = [await a.mintToken(), await b.mintToken()];
  await using anonymous = await TestClient.connect(b.wsUrl);
  await using onA = await TestClient.connect(a.wsUrl);
  await using onB = await TestClient.connect(b.wsUrl);
  await joinWith(onA, t1, ["news"]);
  await joinWith(onB, t2, ["news", "sport"]);
  await anonymous.request({ channels: { join: [], leave: [] } }); // registered before this reply

  for (const node of [a, b]) {
    assert.deepEqual(
      new Set((await getJson(node, "/token/") as { tokens: string[] }).tokens),
      new Set([t1, t2]),
    );
    assert.deepEqual(
      new Set((await getJson(node, "/news/token/") as { tokens: string[] }).tokens),
      new Set([t1, t2]),
    );
    assert.deepEqual((await getJson(node, "/sport/token/") as { tokens: string[] }).tokens, [t2]);
    const dump = await (await node.api("/debug/recipient-dump")).text();
    assert.match(dump, /^RECEIVER POOL REPORT\nanonymous: 1\nauthenticated:\n/);
    assert.ok(dump.includes(`\t - ${t1}: 1\n`) && dump.includes(`\t - ${t2}: 1\n`), dump);
    assert.ok(dump.includes("channels:\n") && dump.includes("\t - news: 2\n"), dump);
    assert.ok(dump.includes("\t - sport: 1\n"), dump);
  }
  const stats = await getJson(a, "/stats") as Record<string, unknown>;
  assert.deepEqual(stats.connections, { anonymous: 1, authenticated: 2 });
  assert.equal(stats.tokens, 2);
  assert.equal(stats.channels, 2);
  assert.deepEqual((stats.node as Record<string, unknown>).id, "a");
  assert.deepEqual((stats.node as Record<string, unknown>).connections, {
    anonymous: 0,
    authenticated: 1,
  });
  assert.deepEqual([...(stats.nodes as string[])].sort(), ["a", "b"]);
  assert.deepEqual(await getJson(b, "/channels/?limit=5"), {
    channels: [{ name: "news", subscribers: 2 }, { name: "sport", subscribers: 1 }],
  });
  assert.deepEqual(await getJson(b, "/channels/?limit=1"), {
    channels: [{ name: "news", subscribers: 2 }],
  });
  // Each node's own row, as of its last heartbeat (about a second old at most).
  const rows = async () => {
    const { nodes } = await getJson(a, "/nodes/") as { nodes: Record<string, unknown>[] };
    return nodes.map(({ id, connections, channels }) => ({ id, connections, channels }));
  };
  const expected = [
    { id: "a", connections: { anonymous: 0, authenticated: 1 }, channels: 1 },
    { id: "b", connections: { anonymous: 1, authenticated: 1 }, channels: 2 },
  ];
  await until(
    async () => JSON.stringify(await rows()) === JSON.stringify(expected),
    "every node's row",
  );

  // Leaving, re-authenticating and closing on one node shows on the other.
  await onB.request({ channels: { join: [], leave: ["news"] } });
  await onA.request({ access_token: t2 });
  assert.deepEqual((await broadcastThrough(a, "news", 1, true)).body, { recipients: 1 });
  assert.deepEqual((await getJson(b, "/news/token/") as { tokens: string[] }).tokens, [t2]);
  await onB[Symbol.asyncDispose]();
  await until(
    async () =>
      (await broadcastThrough(a, "sport", 1, true) as { body: { recipients: number } }).body
        .recipients === 0,
    "the closed connection to leave sport",
  );
});

Deno.test("DELETE /token/{token}/ on one node closes its connections on another within 1 s", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using c = await startNode(redis.url, "c");
  const token = await a.mintToken();
  await using client = await TestClient.connect(a.wsUrl);
  await joinWith(client, token, ["news"]);
  const started = Date.now();
  const response = await c.api(`/token/${token}/`, { method: "DELETE" });
  assert.equal(response.status, 204);
  assert.deepEqual(await withTimeout(client.closed, "the revocation close", 1000), {
    code: 4001,
    reason: "token revoked",
  });
  assert.ok(Date.now() - started < 1000);
  await using again = await TestClient.connect(a.wsUrl);
  assert.deepEqual(await again.request({ access_token: token }), {
    ref: 1,
    error: "access_token: unknown token",
  });
  assert.deepEqual(await readErrors(await c.api(`/token/${token}/`, { method: "DELETE" }), 404), [
    "token: no such token",
  ]);
});

Deno.test("a node that shuts down leaves the counts at once", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const b = await startNode(redis.url, "b");
  await untilNodesSee([a, b]);
  const token = await a.mintToken();
  const onB = await TestClient.connect(b.wsUrl);
  await joinWith(onB, token, ["news"]);
  assert.deepEqual((await broadcastThrough(a, "news", 1, true)).body, { recipients: 1 });
  await b.shutdown();
  assert.equal((await onB.closed).code, 1001);
  assert.deepEqual((await broadcastThrough(a, "news", 1, true)).body, { recipients: 0 });
  assert.equal(await redis.cli("EXISTS", "boreas:{nodes}:b:connections"), "0");
  assert.deepEqual((await getJson(a, "/stats") as { nodes: string[] }).nodes, ["a"]);
  assert.deepEqual(
    (await getJson(a, "/nodes/") as { nodes: { id: string }[] }).nodes.map(
      ({ id }) => id,
    ),
    ["a"],
  );
});

Deno.test("while Redis is down the nodes answer 503 and keep their sockets; then recover", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  await untilNodesSee([a, b]);
  const token = await a.mintToken();
  await using onA = await TestClient.connect(a.wsUrl);
  await using onB = await TestClient.connect(b.wsUrl);
  await joinWith(onA, token, ["news"]);
  await joinWith(onB, token, ["news"]);

  await redis.kill();
  await until(async () => await statusOf(a.api("/health")) === 503, "a to be degraded");
  // Without an API key, nobody is told Redis's address or words: only that it is unavailable.
  const health = await readJson(await a.api("/health"), 503);
  assert.deepEqual(health.value, { status: "degraded", errors: ["redis: unavailable"] });
  const refused = await broadcastThrough(b, "news", 1);
  assert.equal(refused.status, 503);
  assert.deepEqual(refused.body, { errors: ["redis: unavailable"] });
  assert.equal((await broadcastThrough(b, "news", 1, true)).status, 503);
  assert.deepEqual(await readErrors(await a.api("/token/", { method: "POST" }), 503), [
    "redis: unavailable",
  ]);
  assert.equal(await statusOf(a.api(`/token/${token}/`, { method: "DELETE" })), 503);
  assert.equal(await statusOf(a.api("/token/")), 503);
  assert.equal(await statusOf(a.api("/stats")), 503);
  assert.equal(await statusOf(a.api("/metrics")), 200);
  await using late = await TestClient.connect(a.wsUrl);
  assert.deepEqual(await late.request({ access_token: token }), {
    ref: 1,
    error: "access_token: cannot be checked now (redis: unavailable)",
  });
  assert.equal(onA.socket.readyState, WebSocket.OPEN);
  assert.equal(onB.socket.readyState, WebSocket.OPEN);

  // Back, empty: the nodes reconnect, subscribe and register their connections again.
  await redis.start();
  await untilHealthy(a, 5_000);
  await untilHealthy(b, 5_000);
  await until(
    async () =>
      (await broadcastThrough(b, "news", 0, true) as { body: { recipients: number } }).body
        .recipients === 2,
    "both connections to count again",
    5_000,
  );
  assert.deepEqual((await broadcastThrough(b, "news", "back")).body, { recipients: 2 });
  for (const client of [onA, onB]) {
    assert.deepEqual(await client.next(), { message: "back", channel: "news" });
  }
  // The token was lost with Redis's data: it authenticates no one new.
  assert.deepEqual(await late.request({ access_token: token }, 2), {
    ref: 2,
    error: "access_token: unknown token",
  });
});

Deno.test("while Redis is down, the detail of the failure is shown only with the API key", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { apiKey: ["secret"] });
  const withKey = { headers: { authorization: "Bearer secret" } };
  const token = await readJson(await a.api("/token/", { method: "POST", ...withKey }), 200);
  await redis.kill();
  await until(async () => await statusOf(a.api("/health")) === 503, "a to be degraded");
  const keyless = await readJson(await a.api("/health"), 503);
  assert.deepEqual(keyless.value, { status: "degraded", errors: ["redis: unavailable"] });
  const detailed = await readJson(await a.api("/health", withKey), 503);
  const [problem] = (detailed.value as { errors: string[] }).errors;
  assert.match(problem!, /^redis: /);
  assert.notEqual(problem, "redis: unavailable");
  const minted = await readErrors(await a.api("/token/", { method: "POST", ...withKey }), 503);
  assert.match(minted[0]!, /^redis: /);
  assert.notEqual(minted[0], "redis: unavailable");
  await using client = await TestClient.connect(a.wsUrl);
  const { token: minted200 } = token.value as { token: string };
  assert.deepEqual(await client.request({ access_token: minted200 }), {
    ref: 1,
    error: "access_token: cannot be checked now (redis: unavailable)",
  });
});

/** The status of `response`, its body cancelled. */
async function statusOf(response: Promise<Response>): Promise<number> {
  const { status, body } = await response;
  await body?.cancel();
  return status;
}

Deno.test("a subscription that stays open but stops delivering is found and replaced", async () => {
  await using redis = await startRedis();
  await using proxy = startProxy(redis.port);
  await using a = await startNode(`redis://127.0.0.1:${proxy.port}`, "a");
  await using b = await startNode(redis.url, "b");
  const token = await a.mintToken();
  await using client = await TestClient.connect(a.wsUrl);
  await joinWith(client, token, ["news"]);

  assert.equal(proxy.wedgeSubscribers(), 1);
  await until(async () => await statusOf(a.api("/health")) === 503, "a to notice the wedge");
  const health = await readJson(await a.api("/health"), 503);
  assert.deepEqual(health.value, { status: "degraded", errors: ["redis: unavailable"] });
  await untilHealthy(a);
  assert.deepEqual((await broadcastThrough(b, "news", "after")).body, { recipients: 1 });
  assert.deepEqual(await client.next(), { message: "after", channel: "news" });
});

Deno.test("a join while Redis is down is answered, and counts once Redis is back", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const token = await a.mintToken();
  await using client = await TestClient.connect(a.wsUrl);
  await joinWith(client, token, ["news"]);
  await redis.kill();
  await until(async () => await statusOf(a.api("/health")) === 503, "a to be degraded");
  assert.deepEqual(await client.request({ channels: { join: ["sport"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  await redis.start();
  await untilHealthy(a, 5_000);
  await until(
    async () => (await broadcastThrough(a, "sport", 0, true)).body.recipients === 1,
    "the join made while Redis was down to count",
    5_000,
  );
});

Deno.test("a Redis that stops answering makes the API answer 503 in time, not hang", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const token = await a.mintToken();
  redis.signal("SIGSTOP");
  try {
    const started = Date.now();
    const errors = await readErrors(await a.api("/token/", { method: "POST" }), 503);
    assert.deepEqual(errors, ["redis: unavailable"]);
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    await using client = await TestClient.connect(a.wsUrl);
    const reply = await withTimeout(client.request({ access_token: token }), "the reply", 3_000);
    assert.match((reply as { error: string }).error, /^access_token: cannot be checked now/);
    await until(async () => await statusOf(a.api("/health")) === 503, "a to be degraded");
  } finally {
    redis.signal("SIGCONT");
  }
  await untilHealthy(a);
  assert.match(await a.mintToken(), TOKEN_PATTERN);
});

Deno.test("joins made while a flush is failing are answered, not kept waiting", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const token = await a.mintToken();
  await using first = await TestClient.connect(a.wsUrl);
  await using second = await TestClient.connect(a.wsUrl);
  for (const client of [first, second]) await client.request({ access_token: token }, "auth");
  redis.signal("SIGSTOP");
  try {
    first.send({ channels: { join: ["x"], leave: [] }, ref: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the first flush is under way
    second.send({ channels: { join: ["y"], leave: [] }, ref: 2 });
    // Both are answered once the write under way fails (2 s without an answer), not when
    // Redis is back.
    assert.deepEqual(await second.next("the second join's reply", 4_000), { ref: 2, ok: true });
    assert.deepEqual(await first.next("the first join's reply", 4_000), { ref: 1, ok: true });
  } finally {
    redis.signal("SIGCONT");
  }
});
