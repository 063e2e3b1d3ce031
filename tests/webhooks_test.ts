/**
 * Webhooks against a real local receiver: the signed batch shape, connection events, retries,
 * the vacate delay and its cancellation, one occupied/vacated per change across two nodes, a
 * dead node's channels, and the bounded queue while broadcasts keep flowing.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { startNode, until } from "./cluster_helpers.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { channelEvents, startReceiver, type WebhookReceiver } from "./webhook_receiver.ts";

const SECRET = "whsec-test";

function hooks(receiver: WebhookReceiver, overrides: Partial<Config> = {}): Partial<Config> {
  return {
    webhookUrl: [receiver.url],
    webhookSecret: SECRET,
    webhookVacateDelay: 0.3,
    ...overrides,
  };
}

async function mint(server: TestServer, user: string): Promise<string> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  return ((await readJson(response, 200)).value as { token: string }).token;
}

async function join(server: TestServer, token: string, channel: string): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  await client.request({ access_token: token }, 1);
  assert.deepEqual(await client.request({ channels: { join: [channel], leave: [] } }, 2), {
    ref: 2,
    ok: true,
  });
  return client;
}

Deno.test("webhooks: signed batches of connection and channel events", async () => {
  await using receiver = startReceiver(SECRET);
  await using server = await startTestServer(hooks(receiver));
  const token = await mint(server, "7");
  const client = await join(server, token, "room");
  await client[Symbol.asyncDispose]();
  await receiver.until(
    (events) => events.some((event) => event.type === "channel.vacated"),
    "the vacated event",
  );
  assert.equal(receiver.requests.badSignatures, 0);
  const types = receiver.events.map((event) => event.type);
  assert.deepEqual(types, [
    "connection.authenticated",
    "channel.occupied",
    "connection.closed",
    "channel.vacated",
  ]);
  const [authenticated, occupied, closed] = receiver.events;
  assert.equal(authenticated!.user, "7");
  assert.match(authenticated!.token_fingerprint as string, /^[0-9a-f]{12}$/);
  // Standalone too, the node is named: by the id it generated, as /stats shows it.
  const { node } = (await readJson(await server.api("/stats"), 200)).value as {
    node: { id: string };
  };
  assert.match(node.id, /^[0-9a-f]{12}$/);
  assert.equal(authenticated!.node, node.id);
  assert.equal(closed!.node, node.id);
  assert.equal(occupied!.channel, "room");
  assert.equal(closed!.code, 1005);
  assert.equal(new Set(receiver.events.map((event) => event.id)).size, 4);
  assert.ok(receiver.events.every((event) => typeof event.time === "number"));
});

Deno.test("webhooks: a standalone server names itself by --node-id in its events and /stats", async () => {
  await using receiver = startReceiver(SECRET);
  await using server = await startTestServer(hooks(receiver, { nodeId: "solo" }));
  const client = await join(server, await mint(server, "7"), "room");
  await client[Symbol.asyncDispose]();
  await receiver.until(
    (events) => events.some((event) => event.type === "connection.closed"),
    "the closed event",
  );
  const connectionEvents = receiver.events.filter((event) => event.type.startsWith("connection."));
  assert.deepEqual(connectionEvents.map((event) => event.node), ["solo", "solo"]);
  const stats = (await readJson(await server.api("/stats"), 200)).value as {
    node: { id: string };
    nodes: string[];
  };
  assert.equal(stats.node.id, "solo");
  assert.deepEqual(stats.nodes, ["solo"]);
});

Deno.test("webhooks: a batch the receiver refuses is sent again until it succeeds", async () => {
  await using receiver = startReceiver(SECRET);
  receiver.failNext(2);
  await using server = await startTestServer(hooks(receiver));
  await using _ = await join(server, await mint(server, "7"), "room");
  await receiver.until((events) => events.length >= 2, "the events after two refusals", 10_000);
  assert.ok(receiver.requests.total >= 3, `${receiver.requests.total} requests`);
  assert.deepEqual(receiver.events.map((event) => event.type), [
    "connection.authenticated",
    "channel.occupied",
  ]);
});

Deno.test("webhooks: a rejoin within the vacate delay sends nothing", async () => {
  await using receiver = startReceiver(SECRET);
  await using server = await startTestServer(hooks(receiver, { webhookVacateDelay: 1 }));
  const token = await mint(server, "7");
  const first = await join(server, token, "room");
  await first[Symbol.asyncDispose]();
  await using second = await join(server, token, "room"); // a page reload
  await second[Symbol.asyncDispose]();
  const left = Date.now();
  await receiver.until(
    (events) => channelEvents(events, "room").includes("channel.vacated"),
    "vacated",
  );
  assert.ok(Date.now() - left >= 900, "vacated waited for the delay");
  assert.deepEqual(channelEvents(receiver.events, "room"), ["channel.occupied", "channel.vacated"]);
});

Deno.test("webhooks: across two nodes, one occupied and one vacated per change", async () => {
  await using receiver = startReceiver(SECRET);
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", hooks(receiver));
  await using b = await startNode(redis.url, "b", hooks(receiver));
  const token = await mint(a, "7");
  const onA = await join(a, token, "room");
  const onB = await join(b, token, "room");
  await onA[Symbol.asyncDispose]();
  await onB[Symbol.asyncDispose]();
  await receiver.until(
    (events) => channelEvents(events, "room").includes("channel.vacated"),
    "vacated",
  );
  const nodes = receiver.events.filter((event) => event.type === "connection.authenticated")
    .map((event) => event.node).sort();
  assert.deepEqual(nodes, ["a", "b"]);
  // A later event proves no second vacated was on its way.
  await using _again = await join(a, token, "room");
  await receiver.until((events) => channelEvents(events, "room").length === 3, "occupied again");
  assert.deepEqual(channelEvents(receiver.events, "room"), [
    "channel.occupied",
    "channel.vacated",
    "channel.occupied",
  ]);
});

Deno.test("webhooks: a node that shuts down leaves its channels to be vacated by the others", async () => {
  await using receiver = startReceiver(SECRET);
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", hooks(receiver));
  await using b = await startNode(redis.url, "b", hooks(receiver));
  await using client = await join(b, await mint(a, "7"), "solo");
  await receiver.until((events) => channelEvents(events, "solo").length === 1, "occupied");
  await b.shutdown();
  assert.equal((await client.closed).code, 1001);
  await receiver.until(
    (events) => channelEvents(events, "solo").includes("channel.vacated"),
    "vacated, swept by node a",
  );
  assert.deepEqual(channelEvents(receiver.events, "solo"), ["channel.occupied", "channel.vacated"]);
});

Deno.test("webhooks: a receiver that never answers loses the oldest events, not broadcasts", async () => {
  await using receiver = startReceiver(SECRET);
  receiver.hang();
  await using server = await startTestServer(hooks(receiver, { webhookQueueSize: 5 }));
  const token = await mint(server, "7");
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 20; i++) clients.push(await join(server, token, `room-${i}`));
    for (let i = 0; i < 20; i++) {
      const response = await server.api(`/broadcast/room-${i}/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ payload: i }),
      });
      assert.deepEqual((await readJson(response, 200)).value, { recipients: 1 });
      assert.deepEqual(await clients[i]!.next(), { message: i, channel: `room-${i}` });
    }
    const stats = (await readJson(await server.api("/stats"), 200)).value as Record<string, number>;
    assert.ok(stats.webhook_events_dropped! >= 20, `${stats.webhook_events_dropped} dropped`);
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("webhooks: a graceful shutdown sends what is queued, vacated included", async () => {
  await using receiver = startReceiver(SECRET);
  const server = await startTestServer(hooks(receiver, { webhookVacateDelay: 5 }));
  const token = await mint(server, "7");
  const clients: TestClient[] = [];
  for (let i = 0; i < 60; i++) clients.push(await join(server, token, `room-${i}`));
  await server.shutdown();
  for (const client of clients) await client.closed;
  const count = (type: string) => receiver.events.filter((event) => event.type === type).length;
  // 60 authenticated, 60 occupied, 60 closed and 60 vacated: more than one batch at shutdown.
  assert.deepEqual(
    ["connection.authenticated", "channel.occupied", "connection.closed", "channel.vacated"].map(
      count,
    ),
    [60, 60, 60, 60],
  );
});

Deno.test("webhooks: a channel left while Redis was down is vacated once it is back", async () => {
  await using receiver = startReceiver(SECRET);
  await using redis = await startRedis({ appendOnly: true });
  await using a = await startNode(redis.url, "a", hooks(receiver));
  const client = await join(a, await mint(a, "7"), "room");
  await receiver.until((events) => channelEvents(events, "room").length === 1, "occupied");
  await redis.kill();
  await until(() => a.cluster.problems().length > 0, "a to notice Redis is gone");
  await client[Symbol.asyncDispose](); // the last subscriber leaves while Redis is down
  await redis.start(); // with its data: the channel is still announced occupied there
  await receiver.until(
    (events) => channelEvents(events, "room").includes("channel.vacated"),
    "vacated after Redis is back",
    8_000,
  );
  assert.deepEqual(channelEvents(receiver.events, "room"), ["channel.occupied", "channel.vacated"]);
});
