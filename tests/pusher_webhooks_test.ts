/**
 * Pusher webhooks, checked by the real SDK's `webhook(...).isValid()` on a real local receiver:
 * channel_occupied, channel_vacated, member_added, member_removed and client_event, an entry's
 * `events` filter, and once each across two nodes.
 */

import assert from "node:assert/strict";
import type { PusherWebhookEvent } from "../src/config_pusher_apps.ts";
import { startNode, untilNodesSee } from "./cluster_helpers.ts";
import { type TestServer, withTimeout } from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import {
  APP,
  connectPusherJs,
  nextEvent,
  pusherApp,
  serverSdk,
  startPusherServer,
} from "./pusher_helpers.ts";

/** One event a receiver took, with the path it came to. */
type Received = Record<string, unknown> & { name: string; channel: string; path: string };

/** A receiver of an app's webhooks that lets only what the SDK validates in. */
function startPusherReceiver() {
  const events: Received[] = [];
  const refused: string[] = [];
  let wake = () => {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const rawBody = await request.text();
    const headers = Object.fromEntries(request.headers);
    const hook = serverSdk(APP).webhook({ headers, rawBody });
    if (!hook.isValid()) {
      refused.push(`${headers["content-type"]} ${rawBody}`);
      wake();
      return new Response(null, { status: 401 });
    }
    assert.equal(typeof hook.getData().time_ms, "number");
    const path = new URL(request.url).pathname;
    for (const event of hook.getEvents()) events.push({ ...event, path } as Received);
    wake();
    return new Response(null, { status: 200 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    events,
    refused,
    url: (path: string) => `${base}${path}`,
    /** Resolves once an event for which `found` holds has come. */
    until(found: (event: Received) => boolean, what: string): Promise<void> {
      return this.untilState(() => events.some(found), what);
    },
    /** Resolves once `check()` holds, checked as each request comes. */
    async untilState(check: () => boolean, what: string) {
      const reached = (async () => {
        while (!check()) await new Promise<void>((resolve) => wake = resolve);
      })();
      await withTimeout(reached, what);
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** `APP` with its webhooks going to `all` (every event) and `occupied` (occupancy only). */
function appWithHooks(receiver: ReturnType<typeof startPusherReceiver>) {
  const occupancy: PusherWebhookEvent[] = ["channel_occupied", "channel_vacated"];
  return pusherApp({
    ...APP,
    webhooks: [
      { url: receiver.url("/all"), events: [] },
      { url: receiver.url("/occupancy"), events: occupancy },
    ].map((hook) => hook.events.length === 0 ? { ...hook, events: ALL } : hook),
  });
}

const ALL: PusherWebhookEvent[] = [
  "channel_occupied",
  "channel_vacated",
  "member_added",
  "member_removed",
  "client_event",
  "cache_miss",
];

/** A pusher-js client whose presence authorizations name `userId`. */
function member(server: TestServer, userId: string) {
  return connectPusherJs(
    server,
    APP,
    (socketId, channel) =>
      serverSdk(APP).authorizeChannel(socketId, channel, { "user_id": userId }),
  );
}

/** The events of `path` as `name channel [user_id]` lines, in order. */
function linesOf(events: readonly Received[], path: string): string[] {
  return events.filter((event) => event.path === path).map((event) =>
    [event.name, event.channel, event.user_id].filter((part) => part !== undefined).join(" ")
  );
}

Deno.test("webhooks: occupancy, members and client events in Pusher's format, filtered per entry", async () => {
  await using receiver = startPusherReceiver();
  const app = appWithHooks(receiver);
  await using server = await startPusherServer([app], { webhookVacateDelay: 0 });
  await using alice = await member(server, "1");
  await using bob = await member(server, "2");
  const aliceRoom = alice.subscribe("presence-room");
  await nextEvent(aliceRoom, "pusher:subscription_succeeded");
  await receiver.until((event) => event.name === "member_added", "member_added of 1");
  const bobRoom = bob.subscribe("presence-room");
  await nextEvent(bobRoom, "pusher:subscription_succeeded");
  const whisper = nextEvent(aliceRoom, "client-typing");
  bobRoom.trigger("client-typing", { n: 1 });
  await whisper;
  bob.unsubscribe("presence-room");
  alice.unsubscribe("presence-room");
  await receiver.until(
    (event) => event.name === "channel_vacated" && event.path === "/all",
    "channel_vacated",
  );
  await receiver.until(
    (event) => event.path === "/occupancy" && event.name === "channel_vacated",
    "the filtered entry's vacate",
  );
  assert.deepEqual(receiver.refused, []);
  assert.deepEqual(linesOf(receiver.events, "/all"), [
    "channel_occupied presence-room",
    "member_added presence-room 1",
    "member_added presence-room 2",
    "client_event presence-room 2",
    "member_removed presence-room 2",
    "member_removed presence-room 1",
    "channel_vacated presence-room",
  ]);
  assert.deepEqual(linesOf(receiver.events, "/occupancy"), [
    "channel_occupied presence-room",
    "channel_vacated presence-room",
  ]);
  const clientEvent = receiver.events.find((event) => event.name === "client_event");
  assert.deepEqual(
    { ...clientEvent, "socket_id": typeof clientEvent?.socket_id },
    {
      name: "client_event",
      channel: "presence-room",
      event: "client-typing",
      data: '{"n":1}',
      "socket_id": "string",
      "user_id": "2",
      path: "/all",
    },
  );
});

Deno.test("webhooks: a receiver checking another secret refuses them", async () => {
  await using receiver = startPusherReceiver();
  const app = pusherApp({ ...appWithHooks(receiver), secret: "another-secret" });
  await using server = await startPusherServer([app], { webhookVacateDelay: 0 });
  await using client = await connectPusherJs(server, app);
  await nextEvent(client.subscribe("orders"), "pusher:subscription_succeeded");
  await receiver.untilState(() => receiver.refused.length > 0, "a refused webhook");
  assert.match(receiver.refused[0]!, /^application\/json \{"time_ms":\d+,"events":\[/);
  assert.deepEqual(receiver.events, []);
});

Deno.test("cluster: each webhook once, whichever node decided it", async () => {
  await using receiver = startPusherReceiver();
  const app = appWithHooks(receiver);
  await using redis = await startRedis();
  const options = { pusherApps: [app], webhookVacateDelay: 0 };
  await using a = await startNode(redis.url, "a", options);
  await using b = await startNode(redis.url, "b", options);
  await untilNodesSee([a, b]);
  await using onA = await member(a, "1");
  await using onB = await member(b, "2");
  await using againOnB = await member(b, "1");
  for (const client of [onA, onB, againOnB]) {
    await nextEvent(client.subscribe("presence-room"), "pusher:subscription_succeeded");
  }
  for (const client of [onA, onB, againOnB]) client.unsubscribe("presence-room");
  await receiver.until(
    (event) => event.name === "channel_vacated" && event.path === "/all",
    "channel_vacated",
  );
  // Nodes send apart, so their events may interleave in any order; each node sends its own in
  // order: once its marker came, everything it sent before did.
  onA.subscribe("marker-a");
  onB.subscribe("marker-b");
  await receiver.until((event) => event.channel === "marker-a", "node a's marker");
  await receiver.until((event) => event.channel === "marker-b", "node b's marker");
  const lines = linesOf(receiver.events, "/all").filter((line) => line.includes("presence-room"));
  assert.deepEqual(lines.toSorted(), [
    "channel_occupied presence-room",
    "channel_vacated presence-room",
    "member_added presence-room 1",
    "member_added presence-room 2",
    "member_removed presence-room 1",
    "member_removed presence-room 2",
  ]);
});

Deno.test("webhooks: cache_miss when a cache channel has no event to give", async () => {
  await using receiver = startPusherReceiver();
  await using server = await startPusherServer([appWithHooks(receiver)]);
  await using client = await connectPusherJs(server, APP);
  await nextEvent(client.subscribe("cache-prices"), "pusher:cache_miss");
  await receiver.until((event) => event.name === "cache_miss", "cache_miss");
  assert.deepEqual(linesOf(receiver.events, "/all"), [
    "channel_occupied cache-prices",
    "cache_miss cache-prices",
  ]);
});
