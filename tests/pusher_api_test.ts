import assert from "node:assert/strict";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
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

/** A body for the SDK's `post`, which encodes it as JSON itself (its types say a string). */
function jsonBody(body: unknown): string {
  return body as string;
}

/** The status of the SDK's failed request. */
async function statusOf(request: Promise<unknown>): Promise<number> {
  try {
    await request;
  } catch (error) {
    const { status, body } = error as { status: number; body: string };
    assert.ok(Array.isArray(JSON.parse(body).errors), body);
    return status;
  }
  assert.fail("expected the request to fail");
}

Deno.test("the SDK's trigger reaches pusher-js, its data string as sent, on both listeners", async (t) => {
  await using server = await startPusherServer();
  await using client = await connectPusherJs(server, APP);
  const channel = client.subscribe("orders");
  await nextEvent(channel, "pusher:subscription_succeeded");
  for (const on of ["api", "ws"] as const) {
    await t.step(on, async () => {
      const placed = nextEvent(channel, "placed");
      const response = await serverSdk(APP, server, { on }).trigger("orders", "placed", {
        total: "12.50",
      });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {});
      assert.deepEqual(await placed, { total: "12.50" });
    });
  }
});

Deno.test("trigger's data string goes out exactly as the backend sent it", async () => {
  await using server = await startPusherServer();
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  await client.subscribe("prices");
  await serverSdk(APP, server).trigger("prices", "tick", '{"price": 12.50}');
  const got = await client.next("the event");
  assert.equal(got.text, '{"event":"tick","channel":"prices","data":"{\\"price\\": 12.50}"}');
});

Deno.test("trigger with socket_id leaves that connection out; info counts subscriptions", async () => {
  await using server = await startPusherServer();
  await using alice = await connectPusherJs(server, APP);
  await using bob = await connectPusherJs(server, APP);
  const aliceChannel = alice.subscribe("room");
  const bobChannel = bob.subscribe("room");
  await Promise.all([
    nextEvent(aliceChannel, "pusher:subscription_succeeded"),
    nextEvent(bobChannel, "pusher:subscription_succeeded"),
  ]);
  const aliceGot: unknown[] = [];
  aliceChannel.bind("said", (data: unknown) => aliceGot.push(data));
  const bobGot = nextEvent(bobChannel, "said");
  const sdk = serverSdk(APP, server);
  const response = await sdk.trigger(["room", "empty"], "said", "hello", {
    "socket_id": alice.connection.socket_id,
    info: "subscription_count",
  });
  assert.deepEqual(await response.json(), {
    channels: { room: { "subscription_count": 2 }, empty: { "subscription_count": 0 } },
  });
  assert.equal(await bobGot, "hello");
  // Alice gets the next event, and had not got the first.
  const after = nextEvent(aliceChannel, "after");
  await sdk.trigger("room", "after", "x");
  assert.equal(await after, "x");
  assert.deepEqual(aliceGot, []);
});

Deno.test("the SDK's triggerBatch sends each event", async () => {
  await using server = await startPusherServer();
  await using client = await connectPusherJs(server, APP);
  const a = client.subscribe("a");
  const b = client.subscribe("b");
  await Promise.all([
    nextEvent(a, "pusher:subscription_succeeded"),
    nextEvent(b, "pusher:subscription_succeeded"),
  ]);
  const first = nextEvent(a, "one");
  const second = nextEvent(b, "two");
  const response = await serverSdk(APP, server).triggerBatch([
    { channel: "a", name: "one", data: "1" },
    { channel: "b", name: "two", data: { n: 2 } },
  ]);
  assert.equal(response.status, 200);
  assert.deepEqual([await first, await second], [1, { n: 2 }]);
});

Deno.test("the SDK's get reads an app's channels and one channel's state", async () => {
  const other = pusherApp({ id: "2", key: "other-key", secret: "s2" });
  await using server = await startPusherServer([APP, other]);
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  await client.subscribe("orders");
  await client.subscribe("news");
  const theirs = await RawPusher.established(appUrl(server, other.key));
  await using _theirs = theirs.client;
  await theirs.client.subscribe("elsewhere");
  await server.untilMembers(pusherHubChannel(other, "elsewhere"), 1);
  const sdk = serverSdk(APP, server);
  const json = async (request: Promise<{ json(): Promise<unknown> }>) =>
    await (await request).json();
  assert.deepEqual(await json(sdk.get({ path: "/channels" })), {
    channels: { orders: {}, news: {} },
  });
  assert.deepEqual(
    await json(sdk.get({ path: "/channels", params: { "filter_by_prefix": "ne" } })),
    { channels: { news: {} } },
  );
  assert.deepEqual(
    await json(sdk.get({ path: "/channels/orders", params: { info: "subscription_count" } })),
    { occupied: true, "subscription_count": 1 },
  );
  assert.deepEqual(await json(sdk.get({ path: "/channels/nobody" })), { occupied: false });
  assert.equal(
    await statusOf(sdk.get({ path: "/channels", params: { info: "user_count" } })),
    400,
  );
});

Deno.test("bad signatures, keys, apps, sizes and bodies get 401, 404, 413 and 400", async () => {
  await using server = await startPusherServer([APP], { apiKey: ["boreas-key"] });
  const wrongSecret = serverSdk(pusherApp({ ...APP, secret: "wrong" }), server);
  assert.equal(await statusOf(wrongSecret.trigger("a", "e", "d")), 401);
  const wrongKey = serverSdk(pusherApp({ ...APP, key: "wrong-key" }), server);
  assert.equal(await statusOf(wrongKey.trigger("a", "e", "d")), 401);
  const noApp = serverSdk(pusherApp({ ...APP, id: "9999" }), server);
  assert.equal(await statusOf(noApp.trigger("a", "e", "d")), 404);
  const sdk = serverSdk(APP, server);
  assert.equal(await statusOf(sdk.trigger("a", "e", "x".repeat(10 * 1024 + 1))), 413);
  assert.equal(
    await statusOf(sdk.post({ path: "/events", body: jsonBody({ name: "e", channel: "a" }) })),
    400,
  );
  assert.equal(
    await statusOf(
      sdk.post({ path: "/batch_events", body: jsonBody({ batch: new Array(11).fill({}) }) }),
    ),
    400,
  );
  // Boreas's --api-key does not apply: the signature is the authentication.
  const accepted = await sdk.trigger("a", "e", "d");
  assert.deepEqual([accepted.status, await accepted.json()], [200, {}]);
  // Nor does a Pusher signature open Boreas's own routes.
  const stats = await server.api("/stats");
  assert.equal(stats.status, 401);
  await stats.body?.cancel();
});

/** The status and errors of the SDK's failed request. */
async function errorsOf(request: Promise<unknown>): Promise<[number, string[]]> {
  try {
    await request;
  } catch (error) {
    const { status, body } = error as { status: number; body: string };
    return [status, JSON.parse(body).errors];
  }
  assert.fail("expected the request to fail");
}

Deno.test("events answer info, in a batch too; 100 channels and 10,240 bytes are the limits", async () => {
  await using server = await startPusherServer();
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  await client.subscribe("orders");
  const sdk = serverSdk(APP, server);
  const post = (path: string, body: unknown) => sdk.post({ path, body: jsonBody(body) });
  const counted = await sdk.trigger(["orders", "presence-room"], "e", "d", {
    info: "subscription_count",
  });
  assert.deepEqual(await counted.json(), {
    channels: { orders: { "subscription_count": 1 }, "presence-room": { "subscription_count": 0 } },
  });
  const users = await sdk.trigger("presence-room", "e", "d", { info: "user_count" });
  assert.deepEqual(await users.json(), { channels: { "presence-room": { "user_count": 0 } } });
  assert.deepEqual(
    await errorsOf(sdk.trigger("orders", "e", "d", { info: "user_count" })),
    [400, ["info: user_count is only for presence channels"]],
  );
  const batch = await post("/batch_events", {
    batch: [
      { name: "e", channel: "orders", data: "1", info: "subscription_count" },
      { name: "e", channel: "news", data: "2" },
    ],
  });
  assert.deepEqual(await batch.json(), { batch: [{ "subscription_count": 1 }, {}] });
  const many = Array.from({ length: 101 }, (_, i) => `c${i}`);
  assert.deepEqual(
    await errorsOf(post("/events", { name: "e", channels: many, data: "d" })),
    [400, ["channels: expected 1-100 channel names, or a channel"]],
  );
  const hundred = await post("/events", { name: "e", channels: many.slice(1), data: "d" });
  assert.equal(hundred.status, 200);
  await hundred.text();
  const exact = await sdk.trigger("orders", "big", "x".repeat(10_240));
  assert.equal(exact.status, 200);
  await exact.text();
  assert.equal((await client.next("the 10,240 bytes", "big")).data, "x".repeat(10_240));
  assert.deepEqual(
    await errorsOf(sdk.trigger("orders", "big", "x".repeat(10_241))),
    [413, ["data: 10241 bytes, more than the app's 10240"]],
  );
  const bad: Array<[unknown, string]> = [
    [{ channel: "a", data: "d" }, "name: expected 1-200 characters"],
    [{ name: "e", channel: "a", data: 1 }, "data: expected a string"],
    [{ name: "e", data: "d" }, "channels: expected 1-100 channel names, or a channel"],
    [{ name: "e", channels: ["a", 1], data: "d" }, "channels: expected strings"],
    [
      { name: "e", channel: "a b", data: "d" },
      "channel: expected characters of A-Z a-z 0-9 _ - = @ , . ;",
    ],
    [{ name: "e", channel: "a", data: "d", socket_id: "x" }, "socket_id: expected N.N"],
  ];
  for (const [body, error] of bad) {
    assert.deepEqual(await errorsOf(post("/events", body)), [400, [error]], JSON.stringify(body));
  }
  assert.deepEqual(
    await errorsOf(post("/batch_events", { batch: [{ name: "e", data: "d" }] })),
    [400, ["batch[0].channel: expected a string"]],
  );
});
