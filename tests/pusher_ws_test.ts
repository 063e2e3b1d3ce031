import assert from "node:assert/strict";
import { channelNameProblem } from "../src/channel.ts";
import { renderPusherEvent } from "../src/protocol/pusher.ts";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
import type { PusherApp } from "../src/config_pusher_apps.ts";
import { TestClient, type TestServer } from "./helpers.ts";
import {
  APP,
  appUrl,
  connectPusherJs,
  nextEvent,
  pusherApp,
  RawPusher,
  serverSdk,
  startPusherServer,
} from "./pusher_helpers.ts";

/** Broadcasts an event to `app`'s `channel` as the REST API will: through the broker. */
function broadcast(
  server: TestServer,
  app: PusherApp,
  channel: string,
  event: string,
  data: string,
) {
  return server.cluster.broker.publish(
    pusherHubChannel(app, channel),
    renderPusherEvent(event, channel, JSON.stringify(data)),
  );
}

Deno.test("pusher-js connects, subscribes to a public channel and gets a broadcast", async () => {
  await using server = await startPusherServer();
  await using client = await connectPusherJs(server, APP);
  assert.match(client.connection.socket_id, /^\d+\.\d+$/);
  const channel = client.subscribe("orders");
  await nextEvent(channel, "pusher:subscription_succeeded");
  const placed = nextEvent(channel, "placed");
  assert.equal(
    (await broadcast(server, APP, "orders", "placed", '{"total":"12.50"}')).recipients,
    1,
  );
  assert.deepEqual(await placed, { total: "12.50" });
});

Deno.test("pusher-js subscribes to a private channel with the SDK's authorizeChannel", async () => {
  await using server = await startPusherServer();
  await using client = await connectPusherJs(server, APP);
  const channel = client.subscribe("private-orders");
  await nextEvent(channel, "pusher:subscription_succeeded");
  await server.untilMembers(pusherHubChannel(APP, "private-orders"), 1);
});

Deno.test("a bad authorization gets pusher:subscription_error, and the connection stays", async () => {
  await using server = await startPusherServer();
  const wrong = pusherApp({ ...APP, secret: "not-the-secret" });
  await using client = await connectPusherJs(
    server,
    APP,
    (socketId, channel) => serverSdk(wrong).authorizeChannel(socketId, channel),
  );
  const refused = client.subscribe("private-orders");
  const error = await nextEvent(refused, "pusher:subscription_error") as Record<string, unknown>;
  assert.equal(error.type, "AuthError");
  assert.equal(error.status, 401);
  assert.equal(client.connection.state, "connected");
  const open = client.subscribe("orders");
  await nextEvent(open, "pusher:subscription_succeeded");
});

Deno.test("client events go between two pusher-js clients, never back to the sender", async () => {
  await using server = await startPusherServer();
  await using alice = await connectPusherJs(server, APP);
  await using bob = await connectPusherJs(server, APP);
  const aliceChannel = alice.subscribe("private-chat");
  const bobChannel = bob.subscribe("private-chat");
  await Promise.all([
    nextEvent(aliceChannel, "pusher:subscription_succeeded"),
    nextEvent(bobChannel, "pusher:subscription_succeeded"),
  ]);
  const aliceTyping: unknown[] = [];
  aliceChannel.bind("client-typing", (data: unknown) => aliceTyping.push(data));
  const typing = nextEvent(bobChannel, "client-typing");
  assert.equal(aliceChannel.trigger("client-typing", { amount: 12.5, who: "alice" }), true);
  assert.deepEqual(await typing, { amount: 12.5, who: "alice" });
  // Bob's answer comes after any echo of Alice's own event would have.
  const reply = nextEvent(aliceChannel, "client-reply");
  bobChannel.trigger("client-reply", "hi");
  assert.equal(await reply, "hi");
  assert.deepEqual(aliceTyping, []);
});

Deno.test("a client event's data reaches the others exactly as the sender wrote it", async () => {
  await using server = await startPusherServer();
  const { client: alice, socketId: aliceId } = await RawPusher.established(appUrl(server, APP.key));
  await using _alice = alice;
  const { client: bob, socketId: bobId } = await RawPusher.established(appUrl(server, APP.key));
  await using _bob = bob;
  const sign = (socketId: string) => serverSdk(APP).authorizeChannel(socketId, "private-a").auth;
  assert.equal(
    (await alice.subscribe("private-a", sign(aliceId))).event,
    "pusher_internal:subscription_succeeded",
  );
  assert.equal(
    (await bob.subscribe("private-a", sign(bobId))).event,
    "pusher_internal:subscription_succeeded",
  );
  alice.send(
    '{"event":"client-x","channel":"private-a","data":{"total": 12.50, "note":"caf\\u00e9"}}',
  );
  const got = await bob.next("the client event");
  assert.equal(
    got.text,
    '{"event":"client-x","channel":"private-a","data":{"total": 12.50, "note":"caf\\u00e9"}}',
  );
});

Deno.test("refused client events get pusher:error 4301 naming why; the connection stays", async () => {
  const closed = pusherApp({ id: "2", key: "closed-key", secret: "s2" });
  await using server = await startPusherServer([APP, closed]);
  const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const cases: Array<[unknown, string]> = [
    [
      { event: "client-x", channel: "private-a", data: {} },
      "client-x: subscribe to private-a before sending client events to it",
    ],
    [
      { event: "client-x", channel: "public", data: {} },
      "client-x: client events go on private and presence channels only",
    ],
  ];
  await client.subscribe("private-b", serverSdk(APP).authorizeChannel(socketId, "private-b").auth);
  cases.push([
    { event: "client-x", channel: "private-b", data: "x".repeat(10 * 1024) },
    "client-x: data of 10242 bytes, more than 10240",
  ]);
  for (const [event, message] of cases) {
    client.send(event);
    assert.deepEqual((await client.next(message)).data, { code: 4301, message });
  }
  const other = await RawPusher.established(appUrl(server, closed.key));
  await using _other = other.client;
  await other.client.subscribe(
    "private-c",
    serverSdk(closed).authorizeChannel(other.socketId, "private-c").auth,
  );
  other.client.send({ event: "client-x", channel: "private-c", data: {} });
  assert.deepEqual((await other.client.next("the refusal")).data, {
    code: 4301,
    message: "client-x: client events are not enabled for this app",
  });
  client.send({ event: "pusher:ping", data: {} });
  assert.equal((await client.next("pong")).event, "pusher:pong");
});

Deno.test("past 10 client events a second: pusher:error 4301, and the connection stays", async () => {
  await using server = await startPusherServer([APP], { maxClientMessagesPerSecond: 5 });
  const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  await client.subscribe("private-a", serverSdk(APP).authorizeChannel(socketId, "private-a").auth);
  for (let i = 0; i < 15; i++) client.send({ event: "client-x", channel: "private-a", data: i });
  const refusal = await client.next("the rate limit's refusal", "pusher:error");
  assert.deepEqual(refusal.data, {
    code: 4301,
    message: "client-x: more than 10 client events a second",
  });
  client.send({ event: "pusher:ping", data: {} });
  assert.equal((await client.next("pong", "pusher:pong")).event, "pusher:pong");
  assert.equal(client.socket.readyState, WebSocket.OPEN);
});

Deno.test("an unknown key gets pusher:error 4001 and close code 4001", async () => {
  await using server = await startPusherServer();
  await using client = await RawPusher.connect(appUrl(server, "no-such-key"));
  assert.deepEqual((await client.next("the error")).data, {
    code: 4001,
    message: "App key no-such-key does not exist",
  });
  assert.equal((await client.closed).code, 4001);
});

Deno.test("a missing or unsupported protocol gets 4007", async (t) => {
  await using server = await startPusherServer();
  for (const query of ["", "protocol=4", "protocol=8&client=js", `protocol=${"é".repeat(200)}`]) {
    await t.step(query.slice(0, 24) || "(none)", async () => {
      await using client = await RawPusher.connect(appUrl(server, APP.key, query));
      const error = await client.next("the error");
      assert.equal((error.data as { code: number }).code, 4007);
      assert.equal((await client.closed).code, 4007);
    });
  }
  for (const protocol of ["5", "6", "7"]) {
    const { client } = await RawPusher.established(appUrl(server, APP.key, `protocol=${protocol}`));
    await client[Symbol.asyncDispose]();
  }
});

Deno.test("past the app's maxConnections: 4100; other apps are not counted", async () => {
  const small = pusherApp({ id: "2", key: "small-key", secret: "s", maxConnections: 1 });
  await using server = await startPusherServer([APP, small]);
  const first = await RawPusher.established(appUrl(server, small.key));
  await using _first = first.client;
  const other = await RawPusher.established(appUrl(server, APP.key));
  await using _other = other.client;
  await using over = await RawPusher.connect(appUrl(server, small.key));
  assert.deepEqual((await over.next("the error")).data, {
    code: 4100,
    message: "Over the app's connection quota of 1",
  });
  assert.equal((await over.closed).code, 4100);
  await first.client[Symbol.asyncDispose]();
  await server.untilConnections(1);
  const again = await RawPusher.established(appUrl(server, small.key));
  await again.client[Symbol.asyncDispose]();
});

Deno.test("each app's channels are its own, and apart from native channels", async () => {
  const other = pusherApp({ id: "2", key: "other-key", secret: "s2" });
  await using server = await startPusherServer([APP, other], { requireAuth: false });
  const mine = await RawPusher.established(appUrl(server, APP.key));
  await using _mine = mine.client;
  const theirs = await RawPusher.established(appUrl(server, other.key));
  await using _theirs = theirs.client;
  await mine.client.subscribe("news");
  await theirs.client.subscribe("news");
  await using native = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await native.request({ channels: { join: ["news"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  assert.equal((await broadcast(server, APP, "news", "hello", "for app 1")).recipients, 1);
  const got = await mine.client.next("app 1's event");
  assert.deepEqual([got.event, got.data], ["hello", "for app 1"]);
  // The other app and the native subscriber get nothing: a later event reaches them first.
  await broadcast(server, other, "news", "hello", "for app 2");
  assert.equal((await theirs.client.next("app 2's event")).data, "for app 2");
  const response = await server.api("/broadcast/news/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"payload": "native"}',
  });
  assert.deepEqual(await response.json(), { recipients: 1 });
  assert.deepEqual(await native.next("the native broadcast"), {
    message: "native",
    channel: "news",
  });
  assert.deepEqual(mine.client.pending, []);
  // No native name can be an app's channel.
  assert.notEqual(channelNameProblem(pusherHubChannel(APP, "news")), null);
});

Deno.test("a silent connection is pinged after activity_timeout, and closed with 4201", async () => {
  const quick = pusherApp({ ...APP, activityTimeout: 0.2 });
  await using server = await startPusherServer([quick]);
  const { client } = await RawPusher.connect(appUrl(server, quick.key)).then(async (client) => ({
    client,
    established: await client.next("connection_established"),
  }));
  await using _client = client;
  assert.equal((await client.next("the server's ping", "pusher:ping")).event, "pusher:ping");
  client.send({ event: "pusher:pong", data: {} });
  // Answered: the next silence brings another ping, not a close.
  await client.next("the second ping", "pusher:ping");
  assert.deepEqual(await client.closed, { code: 4201, reason: "Pong reply not received" });
});

Deno.test("bad JSON, unknown events and a too-large frame never close another connection", async () => {
  await using server = await startPusherServer([APP], { maxFrameBytes: 1024 });
  const { client: bad } = await RawPusher.established(appUrl(server, APP.key));
  await using _bad = bad;
  const { client: good } = await RawPusher.established(appUrl(server, APP.key));
  await using _good = good;
  bad.send("not json");
  assert.deepEqual((await bad.next("the error")).data, {
    code: null,
    message: "expected a JSON object",
  });
  bad.send({ event: "pusher:teleport" });
  assert.deepEqual((await bad.next("the error")).data, {
    code: null,
    message: 'event: "pusher:teleport" is not supported',
  });
  bad.send("x".repeat(2000));
  assert.equal((await bad.closed).code, 1009);
  good.send({ event: "pusher:ping", data: {} });
  assert.equal((await good.next("pong")).event, "pusher:pong");
});

Deno.test("shutdown sends pusher:error 4200 and closes with 4200", async () => {
  await using server = await startPusherServer();
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const shutdown = server.shutdown();
  assert.deepEqual((await client.next("the error")).data, {
    code: 4200,
    message: "Server is shutting down: reconnect",
  });
  assert.equal((await client.closed).code, 4200);
  assert.equal(await shutdown, true);
});

Deno.test("Pusher connections count in /stats and /metrics, per app", async () => {
  await using server = await startPusherServer();
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const stats = await (await server.api("/stats")).json();
  assert.equal(stats.connections.authenticated, 1);
  assert.deepEqual(stats.pusher, { "1001": { connections: 1 } });
  const metrics = await (await server.api("/metrics")).text();
  assert.match(metrics, /^boreas_pusher_connections\{app="1001"\} 1$/m);
  assert.match(metrics, /^boreas_connections\{state="authenticated"\} 1$/m);
});

Deno.test("pusher:signin, then the SDK's sendToUser reaches every connection of that user", async () => {
  await using server = await startPusherServer();
  const user = { id: "u1", name: "Ada" };
  await using first = await connectPusherJs(server, APP, undefined, { user });
  await using second = await connectPusherJs(server, APP, undefined, { user });
  first.signin();
  second.signin();
  await server.untilMembers(pusherHubChannel(APP, "#server-to-user-u1"), 2);
  assert.deepEqual(first.user.user_data, user);
  const got = [nextEvent(first.user, "notice"), nextEvent(second.user, "notice")];
  const response = await serverSdk(APP, server).sendToUser("u1", "notice", { n: 1 });
  assert.deepEqual([response.status, await response.json()], [200, {}]);
  assert.deepEqual(await Promise.all(got), [{ n: 1 }, { n: 1 }]);
  // Another connection may not read that user's channel.
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  for (const channel of ["#server-to-user-u1", "#server-to-user-null"]) {
    assert.equal((await client.subscribe(channel)).event, "pusher:subscription_error", channel);
  }
});

Deno.test("with --history-size, an app's events are delivered as they are and kept nowhere", async () => {
  await using server = await startPusherServer([APP], { historySize: 10 });
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  await client.subscribe("orders");
  const result = await broadcast(server, APP, "orders", "placed", "1");
  assert.deepEqual(result, { recipients: 1 });
  const got = await client.next("the event");
  assert.equal(got.text, '{"event":"placed","channel":"orders","data":"1"}');
});
