/**
 * `cache-` channels (public, private, presence): a subscriber gets the channel's last event
 * right after `subscription_succeeded`, or `pusher:cache_miss`; on one node and across two.
 */

import assert from "node:assert/strict";
import { startNode, untilNodesSee } from "./cluster_helpers.ts";
import type { TestServer } from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import {
  APP,
  appUrl,
  connectPusherJs,
  nextEvent,
  RawPusher,
  serverSdk,
  startPusherServer,
} from "./pusher_helpers.ts";

async function trigger(server: TestServer, channel: string, event: string, data: unknown) {
  const response = await serverSdk(APP, server).trigger(channel, event, data);
  assert.equal(response.status, 200);
  await response.text();
}

Deno.test("cache channels: pusher:cache_miss, then the last event triggered, to each new subscriber", async () => {
  await using server = await startPusherServer();
  await using first = await connectPusherJs(server, APP);
  const prices = first.subscribe("cache-prices");
  await nextEvent(prices, "pusher:cache_miss");
  await trigger(server, "cache-prices", "update", { p: 1 });
  await trigger(server, "cache-prices", "update", { p: 2 });
  await using second = await connectPusherJs(server, APP);
  const again = second.subscribe("cache-prices");
  assert.deepEqual(await nextEvent(again, "update"), { p: 2 });
  // On the wire: the last event, exactly as it was sent, after the success.
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  assert.equal(
    (await client.subscribe("cache-prices")).event,
    "pusher_internal:subscription_succeeded",
  );
  assert.equal(
    (await client.next("the cached event")).text,
    '{"event":"update","channel":"cache-prices","data":"{\\"p\\":2}"}',
  );
  // Another channel's cache is its own; a channel without cache- keeps nothing.
  await trigger(server, "prices", "update", { p: 3 });
  const plain = await client.subscribe("prices");
  assert.equal(plain.event, "pusher_internal:subscription_succeeded");
  const miss = await client.subscribe("cache-other");
  assert.equal(miss.event, "pusher_internal:subscription_succeeded");
  assert.equal(
    (await client.next("the miss")).text,
    '{"event":"pusher:cache_miss","channel":"cache-other"}',
  );
  assert.deepEqual(client.pending, []);
});

Deno.test("cache channels: private and presence ones keep client events and triggers", async () => {
  await using server = await startPusherServer();
  const authorize = (socketId: string, channel: string) =>
    channel.startsWith("presence-")
      ? serverSdk(APP).authorizeChannel(socketId, channel, { "user_id": "b" })
      : serverSdk(APP).authorizeChannel(socketId, channel);
  await using alice = await connectPusherJs(server, APP);
  await using watcher = await connectPusherJs(server, APP);
  const room = alice.subscribe("private-cache-room");
  const watched = watcher.subscribe("private-cache-room");
  await Promise.all([
    nextEvent(room, "pusher:cache_miss"),
    nextEvent(watched, "pusher:cache_miss"),
  ]);
  const relayed = nextEvent(watched, "client-draft");
  room.trigger("client-draft", { text: "hi" });
  await relayed;
  await trigger(server, "presence-cache-lobby", "topic", "news");
  await using bob = await connectPusherJs(server, APP, authorize);
  const draft = nextEvent(bob.subscribe("private-cache-room"), "client-draft");
  const topic = nextEvent(bob.subscribe("presence-cache-lobby"), "topic");
  assert.deepEqual(await draft, { text: "hi" });
  assert.equal(await topic, "news");
});

Deno.test("cluster: a cache channel's last event reaches a subscriber on the other node", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using onB = await connectPusherJs(b, APP);
  await nextEvent(onB.subscribe("cache-prices"), "pusher:cache_miss");
  await trigger(a, "cache-prices", "update", { p: 1 });
  await using onA = await connectPusherJs(a, APP);
  assert.deepEqual(await nextEvent(onA.subscribe("cache-prices"), "update"), { p: 1 });
});
