/**
 * The Pusher protocol across two nodes on a test Redis of its own: triggers, client events and
 * channel counts reach across nodes; presence is refused until its members are cluster-wide.
 */

import assert from "node:assert/strict";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
import { startNode, until, untilNodesSee } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { APP, appUrl, connectPusherJs, nextEvent, RawPusher, serverSdk } from "./pusher_helpers.ts";

Deno.test("cluster: a trigger on one node reaches pusher-js on the other; counts are cluster-wide", async () => {
  await using redis = await startRedis();
  // With history on too: an app's events take the path of frames kept nowhere.
  await using a = await startNode(redis.url, "a", { pusherApps: [APP], historySize: 10 });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP], historySize: 10 });
  await untilNodesSee([a, b]);
  await using client = await connectPusherJs(b, APP);
  const channel = client.subscribe("orders");
  await nextEvent(channel, "pusher:subscription_succeeded");
  const sdk = serverSdk(APP, a);
  await until(async () => {
    const response = await sdk.get({
      path: "/channels/orders",
      params: { info: "subscription_count" },
    });
    return ((await response.json()) as { "subscription_count": number }).subscription_count === 1;
  }, "node a to count node b's subscriber");
  const placed = nextEvent(channel, "placed");
  const response = await sdk.trigger("orders", "placed", { total: "12.50" });
  assert.equal(response.status, 200);
  await response.text();
  assert.deepEqual(await placed, { total: "12.50" });
});

Deno.test("cluster: client events cross nodes, never back to the sender", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using alice = await connectPusherJs(a, APP);
  await using bob = await connectPusherJs(b, APP);
  const aliceChannel = alice.subscribe("private-chat");
  const bobChannel = bob.subscribe("private-chat");
  await Promise.all([
    nextEvent(aliceChannel, "pusher:subscription_succeeded"),
    nextEvent(bobChannel, "pusher:subscription_succeeded"),
  ]);
  await until(
    async () => await a.cluster.membership.recipients(pusherHubChannel(APP, "private-chat")) === 2,
    "both subscribers to be counted",
  );
  const aliceGot: unknown[] = [];
  aliceChannel.bind("client-typing", (data: unknown) => aliceGot.push(data));
  const typing = nextEvent(bobChannel, "client-typing");
  aliceChannel.trigger("client-typing", { n: 1 });
  assert.deepEqual(await typing, { n: 1 });
  const reply = nextEvent(aliceChannel, "client-reply");
  bobChannel.trigger("client-reply", "ok");
  assert.equal(await reply, "ok");
  assert.deepEqual(aliceGot, []);
});

Deno.test("cluster: presence subscriptions are refused, saying why", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  const { client, socketId } = await RawPusher.established(appUrl(a, APP.key));
  await using _client = client;
  const signed = serverSdk(APP).authorizeChannel(socketId, "presence-room", { "user_id": "1" });
  client.send({
    event: "pusher:subscribe",
    data: { channel: "presence-room", auth: signed.auth, "channel_data": signed.channel_data },
  });
  const refused = await client.next("the refusal");
  assert.equal(refused.event, "pusher:subscription_error");
  assert.match((refused.data as { error: string }).error, /cluster mode/);
});
