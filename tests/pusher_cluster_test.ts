/**
 * The Pusher protocol across two nodes on a test Redis of its own: triggers, client events,
 * channel counts and presence members reach across nodes.
 */

import assert from "node:assert/strict";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
import { getJson, startNode, until, untilNodesSee } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";
import type { TestServer } from "./helpers.ts";
import { APP, connectPusherJs, nextEvent, serverSdk } from "./pusher_helpers.ts";

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

Deno.test("cluster: /stats counts each app's connections on every node", async () => {
  await using redis = await startRedis();
  const other = { ...APP, id: "1002", key: "other-key" };
  await using a = await startNode(redis.url, "a", { pusherApps: [APP, other] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP, other] });
  await untilNodesSee([a, b]);
  await using _onA = await connectPusherJs(a, APP);
  await using _onB = await connectPusherJs(b, APP);
  await using _otherOnB = await connectPusherJs(b, other);
  // Another node's figures are as of its last heartbeat.
  await until(async () => {
    const stats = await getJson(a, "/stats") as { pusher: unknown };
    return JSON.stringify(stats.pusher) === '{"1001":{"connections":2},"1002":{"connections":1}}';
  }, "node a to count node b's Pusher connections");
});

Deno.test("cluster: a trigger's socket_id leaves that connection out on whichever node it is", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using onA = await connectPusherJs(a, APP);
  await using onB = await connectPusherJs(b, APP);
  const channelA = onA.subscribe("orders");
  const channelB = onB.subscribe("orders");
  await Promise.all([
    nextEvent(channelA, "pusher:subscription_succeeded"),
    nextEvent(channelB, "pusher:subscription_succeeded"),
  ]);
  await until(
    async () => await a.cluster.membership.recipients(pusherHubChannel(APP, "orders")) === 2,
    "both subscribers to be counted",
  );
  const gotOnB: unknown[] = [];
  channelB.bind("placed", (data: unknown) => gotOnB.push(data));
  const sdk = serverSdk(APP, a);
  for (const through of [a, b]) {
    const onAGot = nextEvent(channelA, "placed");
    const response = await serverSdk(APP, through).trigger("orders", "placed", "skip b", {
      "socket_id": onB.connection.socket_id,
    });
    await response.text();
    assert.equal(await onAGot, "skip b");
  }
  // The next event reaches b: the first b ever got.
  const last = nextEvent(channelB, "placed");
  await (await sdk.trigger("orders", "placed", "all")).text();
  assert.equal(await last, "all");
  assert.deepEqual(gotOnB, ["all"]);
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

/** A pusher-js client of `server` whose presence authorizations name `userId` (with `name` as
 * info), signed by the real SDK. */
function member(server: TestServer, userId: string | number, name: string) {
  return connectPusherJs(
    server,
    APP,
    (socketId, channel) =>
      serverSdk(APP).authorizeChannel(socketId, channel, {
        // Laravel sends numbers; the SDK's types say strings.
        "user_id": userId as string,
        "user_info": { name },
      }),
  );
}

interface Members {
  count: number;
  each(callback: (member: { id: string; info: unknown }) => void): void;
}

function membersOf(channel: unknown): Members {
  return (channel as { members: Members }).members;
}

function idsOf(members: Members): string[] {
  const ids: string[] = [];
  members.each(({ id }) => ids.push(String(id)));
  return ids.sort();
}

Deno.test("cluster: presence members, member_added and member_removed once per user across nodes", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using alice = await member(a, 1, "Alice");
  const room = alice.subscribe("presence-room");
  await nextEvent(room, "pusher:subscription_succeeded");
  const added: unknown[] = [];
  const removed: unknown[] = [];
  room.bind("pusher:member_added", (data: unknown) => added.push(data));
  room.bind("pusher:member_removed", (data: unknown) => removed.push(data));

  const bobAdded = nextEvent(room, "pusher:member_added");
  await using bob = await member(b, "b", "Bob");
  const bobRoom = bob.subscribe("presence-room");
  await nextEvent(bobRoom, "pusher:subscription_succeeded");
  assert.deepEqual(await bobAdded, { id: "b", info: { name: "Bob" } });
  assert.deepEqual(idsOf(membersOf(bobRoom)), ["1", "b"]);
  assert.equal(membersOf(bobRoom).count, 2);

  // Bob's second connection, on the other node, adds no member; Carol's next one proves it.
  await using bobAgain = await member(a, "b", "Bob");
  const bobAgainRoom = bobAgain.subscribe("presence-room");
  await nextEvent(bobAgainRoom, "pusher:subscription_succeeded");
  assert.deepEqual(idsOf(membersOf(bobAgainRoom)), ["1", "b"]);
  const carolAdded = nextEvent(room, "pusher:member_added");
  await using carol = await member(b, "c", "Carol");
  const carolRoom = carol.subscribe("presence-room");
  await nextEvent(carolRoom, "pusher:subscription_succeeded");
  assert.deepEqual(await carolAdded, { id: "c", info: { name: "Carol" } });
  assert.deepEqual(added, [{ id: "b", info: { name: "Bob" } }, {
    id: "c",
    info: { name: "Carol" },
  }]);
  assert.equal(membersOf(room).count, 3);
  assert.deepEqual(idsOf(membersOf(carolRoom)), ["1", "b", "c"]);

  // Either node counts every node's users.
  for (const node of [a, b]) {
    const sdk = serverSdk(APP, node);
    const info = await sdk.get({ path: "/channels/presence-room", params: { info: "user_count" } });
    assert.deepEqual(await info.json(), { occupied: true, "user_count": 3 });
    const users = (await (await sdk.get({ path: "/channels/presence-room/users" })).json()) as {
      users: Array<{ id: unknown }>;
    };
    assert.deepEqual(users.users.map(({ id }) => String(id)).sort(), ["1", "b", "c"]);
    const list = await sdk.get({
      path: "/channels",
      params: { "filter_by_prefix": "presence-", info: "user_count" },
    });
    assert.deepEqual(await list.json(), { channels: { "presence-room": { "user_count": 3 } } });
  }

  // Bob leaves only with his last connection, whichever node it is on: Carol's goes first.
  await bob[Symbol.asyncDispose]();
  const carolRemoved = nextEvent(room, "pusher:member_removed");
  carol.unsubscribe("presence-room");
  assert.deepEqual(await carolRemoved, { id: "c", info: { name: "Carol" } });
  const bobRemoved = nextEvent(room, "pusher:member_removed");
  bobAgain.disconnect();
  assert.deepEqual(await bobRemoved, { id: "b", info: { name: "Bob" } });
  assert.deepEqual(removed, [{ id: "c", info: { name: "Carol" } }, {
    id: "b",
    info: { name: "Bob" },
  }]);
  assert.deepEqual(idsOf(membersOf(room)), ["1"]);
  const sdk = serverSdk(APP, b);
  const info = await sdk.get({ path: "/channels/presence-room", params: { info: "user_count" } });
  assert.deepEqual(await info.json(), { occupied: true, "user_count": 1 });
});

Deno.test("cluster: triggerBatch and sendToUser through node b reach pusher-js on node a; a bad signature gets 401 there", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using client = await connectPusherJs(a, APP, undefined, { user: { id: "u1" } });
  client.signin();
  const first = client.subscribe("first");
  const second = client.subscribe("second");
  await Promise.all([
    nextEvent(first, "pusher:subscription_succeeded"),
    nextEvent(second, "pusher:subscription_succeeded"),
  ]);
  await until(async () => {
    const counts = await Promise.all(
      ["first", "second", "#server-to-user-u1"].map((channel) =>
        b.cluster.membership.recipients(pusherHubChannel(APP, channel))
      ),
    );
    return counts.every((count) => count === 1);
  }, "node b to count node a's subscriptions and signed-in user");
  const sdk = serverSdk(APP, b);
  const one = nextEvent(first, "one");
  const two = nextEvent(second, "two");
  const batch = await sdk.triggerBatch([
    { channel: "first", name: "one", data: "1" },
    { channel: "second", name: "two", data: { n: 2 } },
  ]);
  assert.deepEqual([batch.status, await batch.json()], [200, {}]);
  assert.deepEqual([await one, await two], [1, { n: 2 }]);
  const notice = nextEvent(client.user, "notice");
  const sent = await sdk.sendToUser("u1", "notice", { n: 3 });
  assert.deepEqual([sent.status, await sent.json()], [200, {}]);
  assert.deepEqual(await notice, { n: 3 });
  const wrong = serverSdk({ ...APP, secret: "not-the-secret" }, b);
  const refused = await wrong.trigger("first", "one", "x").then(
    () => assert.fail("expected a 401"),
    (error: { status: number; body: string }) => error,
  );
  assert.equal(refused.status, 401);
  assert.deepEqual(Object.keys(JSON.parse(refused.body)), ["errors"]);
});
