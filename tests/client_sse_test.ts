/**
 * The client over Server-Sent Events (`transport: "sse"`, `GET /events`) on real servers:
 * receiving, join and leave by reopening the stream, resuming with history (after a drop, and
 * after a cluster node restarts), recovery events, the same errors as over a WebSocket, and
 * `auto` falling back to SSE; and the SSE parser and event ids on their own.
 */

import assert from "node:assert/strict";
import {
  BoreasSubscriber,
  BoreasSubscriberError,
  type BoreasSubscriberOptions,
  type RecoveryEvent,
  type SubscriberState,
  type WebSocketConstructor,
} from "../client/mod.ts";
import { eventsUrl } from "../client/policy.ts";
import { decodePositions, encodePositions, SseParser } from "../client/sse.ts";
import {
  apiOf,
  assertFellBackToSse,
  dropConnections,
  iterationError,
  nextEvent,
  nextMessage,
  subscriberOf,
} from "./client_helpers.ts";
import {
  Gate,
  restartWithNewEpoch,
  resumeUnderLoad,
  revokeWhileSubscribed,
  shutDownWithoutReconnect,
} from "./client_scenarios.ts";
import { startNode } from "./cluster_helpers.ts";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import { startSseOnlyProxy } from "./sse_only_proxy.ts";

/** A subscriber of `server` over SSE, with fast back-off. */
function sseSubscriberOf(
  server: { readonly wsUrl: string },
  token: string,
  options: Partial<BoreasSubscriberOptions> & { states?: SubscriberState[] } = {},
): BoreasSubscriber {
  return subscriberOf(server, token, { transport: "sse", ...options });
}

/** A `fetch` that records the `Last-Event-ID` of each request, and once `hold()` is called
 * keeps the next request from the server until `release()`, so that a test can publish while
 * the subscriber is away. */
function gatedFetch() {
  const lastEventIds: Array<string | null> = [];
  const gate = new Gate();
  const gated: typeof fetch = async (input, init) => {
    lastEventIds.push(new Headers(init?.headers).get("last-event-id"));
    await gate.take();
    return await fetch(input, init);
  };
  return {
    fetch: gated,
    lastEventIds,
    /** Holds the next request. */
    hold: () => gate.hold(),
  };
}

type GatedFetch = ReturnType<typeof gatedFetch>;

async function mint(server: TestServer, body: Record<string, unknown>): Promise<string> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

Deno.test("SseParser splits events by the standard's rules, across chunks", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push(': keepalive\n\nid: a=1:e\ndata: {"n"\r'), []);
  assert.deepEqual(parser.push("\ndata:1}\r\n\r\nevent: close\nda"), [
    { type: "message", data: '{"n"\n1}', id: "a=1:e" },
  ]);
  assert.deepEqual(parser.push("ta: x\r\revent: empty\n\ndata\n\n"), [
    { type: "close", data: "x", id: undefined },
    { type: "message", data: "", id: undefined },
  ]);
});

Deno.test("SseParser surfaces a block with an id and no data, and drops one with neither", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("id: a=0:e,b=3:f\n\nevent: x\n\nid\n\n: c\n\nid: g=1:h\r\n"), [
    { type: "message", data: undefined, id: "a=0:e,b=3:f" },
  ]);
  assert.deepEqual(parser.push("event: y\r\n\r\n"), [{ type: "y", data: undefined, id: "g=1:h" }]);
});

Deno.test("encodePositions() and decodePositions() round-trip any channel name", () => {
  const positions = {
    "café,news=1": { offset: 41, epoch: "9f1c04e2" },
    b: { offset: 0, epoch: "x" },
  };
  const id = encodePositions(positions);
  assert.equal(id, "caf%C3%A9%2Cnews%3D1=41:9f1c04e2,b=0:x");
  assert.deepEqual(Object.fromEntries(decodePositions(id)), positions);
  assert.deepEqual(
    decodePositions("a=1:,%E0=2:e,c=3:e"),
    new Map([["c", { offset: 3, epoch: "e" }]]),
  );
});

Deno.test("eventsUrl() puts events after the WebSocket URL's path, over http(s)", () => {
  assert.equal(eventsUrl("ws://localhost:8002/"), "http://localhost:8002/events");
  assert.equal(
    eventsUrl("wss://push.example/boreas/?k=v#x"),
    "https://push.example/boreas/events?k=v",
  );
  assert.equal(eventsUrl("wss://push.example/boreas"), "https://push.example/boreas/events");
});

Deno.test("BoreasSubscriber validates its transport", () => {
  const url = "ws://127.0.0.1:9/";
  assert.throws(
    () => new BoreasSubscriber({ url, token: "T", transport: "ws" as "websocket" }),
    { name: "TypeError", message: 'transport: expected "websocket", "sse" or "auto", got "ws"' },
  );
});

Deno.test("BoreasSubscriber over SSE receives broadcasts from GET /events", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const token = await api.createToken();
  await using subscriber = await BoreasSubscriber.connect({
    url: server.wsUrl,
    token,
    channels: ["news", "café/ünï"],
    transport: "sse",
  });
  assert.equal(subscriber.transport, "sse");
  await server.untilAuthenticated(token, 1);
  assert.equal(server.hub.memberCount("café/ünï"), 1);
  assert.equal(await api.broadcast("news", { n: 1 }), 1);
  assert.equal(await api.broadcast("café/ünï", "two"), 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: { n: 1 } });
  assert.deepEqual(await nextMessage(subscriber), { channel: "café/ünï", message: "two" });
  await withTimeout(subscriber.close(), "close");
  await server.untilConnections(0);
});

Deno.test("BoreasSubscriber over SSE joins and leaves by reopening its stream", async (t) => {
  await using server = await startTestServer({ historySize: 100 });
  const api = apiOf(server);
  const states: SubscriberState[] = [];
  await using subscriber = sseSubscriberOf(server, await api.createToken(), {
    channels: ["a"],
    states,
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");

  await t.step("join() resolves once the new stream is in every channel", async () => {
    await withTimeout(subscriber.join("b"), "join");
    assert.deepEqual(subscriber.channels, ["a", "b"]);
    assert.equal(server.hub.memberCount("b"), 1);
    await server.untilConnections(1);
    await api.publish("a", "to a");
    await api.publish("b", "to b");
    assert.deepEqual(await nextMessage(subscriber), { channel: "a", message: "to a", offset: 1 });
    assert.deepEqual(await nextMessage(subscriber), { channel: "b", message: "to b", offset: 1 });
  });

  await t.step("a refused join rejects, and the subscription goes on", async () => {
    const error = await withTimeout(subscriber.join("bad\u0000").catch((e) => e), "join");
    assert.ok(error instanceof BoreasSubscriberError, String(error));
    assert.equal(error.kind, "rejected");
    assert.match(error.message, /^channel\[2\]: /);
    assert.deepEqual(subscriber.channels, ["a", "b"]);
    await api.publish("b", "still here");
    assert.deepEqual(await nextMessage(subscriber), {
      channel: "b",
      message: "still here",
      offset: 2,
    });
  });

  await t.step("leave() resolves once the stream is out of the channels", async () => {
    await withTimeout(subscriber.leave("a"), "leave");
    assert.deepEqual(subscriber.channels, ["b"]);
    await server.untilMembers("a", 0);
    assert.deepEqual(subscriber.positions, { b: subscriber.positions.b });
    await withTimeout(subscriber.leave("b"), "leaving the last channel");
    await server.untilConnections(0);
    assert.equal(subscriber.state, "open");
    await withTimeout(subscriber.join("a"), "joining again with no stream open");
    assert.equal(server.hub.memberCount("a"), 1);
    await api.publish("a", "back");
    assert.deepEqual(await nextMessage(subscriber), { channel: "a", message: "back", offset: 2 });
  });
  assert.deepEqual(states, ["open"]);
});

Deno.test("BoreasSubscriber over SSE resumes after since on its first stream", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const api = apiOf(server);
  const { epoch } = await api.publish("news", 1);
  await api.publish("news", 2);
  await api.publish("news", 3);
  const gated = gatedFetch();
  await using subscriber = sseSubscriberOf(server, await api.createToken(), {
    channels: ["news"],
    since: { news: { offset: 1, epoch: epoch! } },
    fetch: gated.fetch,
  });
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: 2, offset: 2 });
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: 3, offset: 3 });
  assert.deepEqual(gated.lastEventIds, [`news=1:${epoch}`]);
});

/** `subscriber`'s stream dropped by `server` (1012, as a restart would), its reconnect held
 * by `gated` while `publish()` runs; returns the reconnect's `Last-Event-ID` and what
 * `publish()` returned, once the reconnect is released. */
async function whileAway<T>(
  { server, token, gated }: { server: TestServer; token: string; gated: GatedFetch },
  publish: () => Promise<T>,
): Promise<{ lastEventId: string | null | undefined; published: T }> {
  await server.untilAuthenticated(token, 1);
  const gate = gated.hold();
  assert.equal(server.hub.disconnectToken(token, 1012, "service restart"), 1);
  await withTimeout(gate.held, "the reconnect's request");
  await server.untilAuthenticated(token, 0);
  try {
    return { lastEventId: gated.lastEventIds.at(-1), published: await publish() };
  } finally {
    gate.release();
  }
}

Deno.test("BoreasSubscriber over SSE resumes every channel from where its stream started, before any message", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const api = apiOf(server);
  const token = await api.createToken();
  const gated = gatedFetch();
  const recoveries: RecoveryEvent[] = [];
  await using subscriber = sseSubscriberOf(server, token, {
    channels: ["news", "quiet"],
    fetch: gated.fetch,
    onRecovery: (event) => recoveries.push(event),
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  const [news, quiet] = await Promise.all([api.history("news"), api.history("quiet")]);

  // Drops the stream and publishes "away" to `channel` while the reconnect is held; checks the
  // reconnect's Last-Event-ID, the replay, and a live message after it, with no repeat.
  const resumesIn = async (channel: string, lastEventId: string) => {
    const away = await whileAway({ server, token, gated }, () => api.publish(channel, "away"));
    assert.equal(away.published.recipients, 0);
    assert.equal(away.lastEventId, lastEventId);
    assert.deepEqual(await nextMessage(subscriber, `the replay in ${channel}`), {
      channel,
      message: "away",
      offset: 1,
    });
    await api.publish(channel, "live");
    assert.deepEqual(await nextMessage(subscriber, `the live message in ${channel}, no repeat`), {
      channel,
      message: "live",
      offset: 2,
    });
  };

  // Dropped before its first message: only the stream's opening id says where it stood.
  await resumesIn("news", `news=0:${news.epoch},quiet=0:${quiet.epoch}`);

  // Nobody was subscribed while away, so neither channel kept its epoch: "news" took a new one
  // with its message, and "quiet", which resumed with nothing missed, one with the reconnect.
  const [newsNow, quietNow] = await Promise.all([api.history("news"), api.history("quiet")]);
  assert.notEqual(newsNow.epoch, news.epoch);
  const before = `news=2:${newsNow.epoch},quiet=0:${quietNow.epoch}`;

  // A join reopens the stream, which says where the new channel starts.
  await withTimeout(subscriber.join("late"), "the join");
  assert.equal(gated.lastEventIds.at(-1), before);
  const late = await api.history("late");
  await resumesIn("late", `${before},late=0:${late.epoch}`);
  assert.deepEqual(recoveries, []);
});

Deno.test("BoreasSubscriber over SSE in no channel checks its token at the first join", async () => {
  await using server = await startTestServer();
  await using subscriber = await BoreasSubscriber.connect({
    url: server.wsUrl,
    token: "not-a-token",
    transport: "sse",
  });
  assert.equal(subscriber.state, "open");
  const error = await withTimeout(subscriber.join("a").catch((e) => e), "the join");
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "auth-rejected");
  assert.equal(error.message, "access_token: unknown token");
  await withTimeout(subscriber.untilState("closed"), "the subscriber to close");
  assert.equal(subscriber.error, error);
});

Deno.test("BoreasSubscriber over SSE resumes after a drop with no gap and no repeat while publishing goes on", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const gated = gatedFetch();
  await resumeUnderLoad(server, {
    options: { transport: "sse", fetch: gated.fetch },
    request: "the reconnect's request with Last-Event-ID",
    hold: gated.hold,
    assertResumesAfter: ({ offset, epoch }) => {
      assert.equal(gated.lastEventIds.at(-1), `news=${offset}:${epoch}`);
    },
  });
});

Deno.test("BoreasSubscriber over SSE resumes on a restarted cluster node from the history in Redis", async () => {
  const HISTORY = { historySize: 100, historyTtl: 60 };
  await using redis = await startRedis();
  await using other = await startNode(redis.url, "b", HISTORY);
  const nodeA = await startNode(redis.url, "a", HISTORY);
  const ports = { apiPort: nodeA.apiAddr.port, wsPort: nodeA.wsAddr.port };
  const token = await nodeA.mintToken();
  await using subscriber = sseSubscriberOf(nodeA, token, { channels: ["news"] });
  const events = subscriber.events()[Symbol.asyncIterator]();
  try {
    await withTimeout(subscriber.untilOpen(), "the subscriber to open on node a");
    for (let n = 1; n <= 3; n++) await apiOf(other).publish("news", n);
    for (let n = 1; n <= 3; n++) {
      assert.deepEqual(await nextEvent(events, `message ${n}`), {
        type: "message",
        channel: "news",
        message: n,
        offset: n,
      });
    }
  } finally {
    await nodeA.shutdown();
  }
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");
  for (let n = 4; n <= 6; n++) await apiOf(other).publish("news", n);
  await using restarted = await startNode(redis.url, "a", { ...HISTORY, ...ports });
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen on node a");
  await apiOf(restarted).publish("news", 7);
  for (let n = 4; n <= 7; n++) {
    assert.deepEqual(await nextEvent(events, `message ${n}, replayed or live`), {
      type: "message",
      channel: "news",
      message: n,
      offset: n,
    });
  }
});

Deno.test("BoreasSubscriber over SSE reports a channel a restarted server cannot resume", async () => {
  await restartWithNewEpoch("sse");
});

Deno.test("BoreasSubscriber over SSE refuses a bad token as over a WebSocket", async () => {
  await using server = await startTestServer();
  const refusal = (transport: "websocket" | "sse") =>
    BoreasSubscriber.connect({
      url: server.wsUrl,
      token: "not-a-token",
      transport,
      channels: ["a"],
    })
      .then(() => assert.fail("connected"), (error) => error);
  const [overWebSocket, overSse] = await withTimeout(
    Promise.all([refusal("websocket"), refusal("sse")]),
    "both refusals",
  );
  for (const error of [overWebSocket, overSse]) {
    assert.ok(error instanceof BoreasSubscriberError, String(error));
    assert.equal(error.kind, "auth-rejected");
    assert.equal(error.message, "access_token: unknown token");
  }
  await server.untilConnections(0);
});

Deno.test("BoreasSubscriber over SSE ends on an expired token (4004) as over a WebSocket", async () => {
  await using server = await startTestServer();
  const token = await mint(server, { ttl: 1 });
  const states = { websocket: [] as SubscriberState[], sse: [] as SubscriberState[] };
  const subscribers = (["websocket", "sse"] as const).flatMap((transport) => [
    subscriberOf(server, token, { transport, channels: ["a"], states: states[transport] }),
    subscriberOf(server, token, { transport, channels: ["a"], reconnect: false }),
  ]);
  try {
    const errors = await withTimeout(
      Promise.all(subscribers.map((subscriber) => iterationError(subscriber))),
      "every subscription to end",
      4_000,
    );
    const outcomes = errors.map((error) => {
      assert.ok(error instanceof BoreasSubscriberError, String(error));
      return { kind: error.kind, message: error.message, closeCode: error.closeCode };
    });
    // 4004 is not final: a reconnect finds the token gone; without one, the close is the end.
    const [withReconnect, withoutReconnect] = [
      { kind: "auth-rejected", message: "access_token: unknown token", closeCode: undefined },
      { kind: "disconnected", message: "connection closed (4004 token expired)", closeCode: 4004 },
    ];
    assert.deepEqual(outcomes, [withReconnect, withoutReconnect, withReconnect, withoutReconnect]);
    assert.deepEqual(states.sse, states.websocket);
    assert.deepEqual(states.sse, ["open", "reconnecting", "closed"]);
  } finally {
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
  }
});

Deno.test("BoreasSubscriber with transport auto goes over to SSE at once when no WebSocket can be made", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const token = await api.createToken();
  // As a page's Content-Security-Policy makes `new WebSocket()` throw.
  const Blocked = class {
    constructor() {
      throw new DOMException("blocked by policy", "SecurityError");
    }
  } as unknown as WebSocketConstructor;
  const overWebSocket = await BoreasSubscriber.connect({
    url: server.wsUrl,
    token,
    WebSocket: Blocked,
  }).then(() => assert.fail("connected"), (error) => error);
  assert.ok(overWebSocket instanceof BoreasSubscriberError, String(overWebSocket));
  assert.equal(overWebSocket.kind, "disconnected");
  await using subscriber = subscriberOf(server, token, {
    transport: "auto",
    channels: ["news"],
    WebSocket: Blocked,
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open over SSE");
  assert.equal(subscriber.transport, "sse");
  assert.equal(await api.broadcast("news", 1), 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: 1 });
});

Deno.test("BoreasSubscriber over SSE ends with token-revoked on 4001", async () => {
  await using server = await startTestServer();
  await revokeWhileSubscribed(server, "sse");
});

Deno.test("BoreasSubscriber over SSE with reconnect: false ends with the final close's code", async () => {
  await shutDownWithoutReconnect(await startTestServer(), "sse");
});

Deno.test("BoreasSubscriber with transport auto falls back to SSE after two failed WebSockets", async () => {
  await using server = await startTestServer();
  await using proxy = startSseOnlyProxy(server.wsUrl);
  const api = apiOf(server);
  const token = await api.createToken();
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(proxy, token, {
    transport: "auto",
    channels: ["news"],
    states,
  });
  assert.equal(subscriber.transport, "websocket");
  await assertFellBackToSse(subscriber, proxy, api);

  // It stays on SSE: a drop reconnects without trying a WebSocket again.
  dropConnections(server, token);
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");
  assert.equal(proxy.upgrades, 2);
  assert.equal(proxy.forwardedStreams, 2);
  assert.deepEqual(states, ["open", "reconnecting", "open"]);
});

Deno.test("BoreasSubscriber with transport auto uses a WebSocket that opens", async () => {
  await using server = await startTestServer();
  const token = await apiOf(server).createToken();
  let sockets = 0;
  await using subscriber = subscriberOf(server, token, {
    transport: "auto",
    WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets++;
      }
    },
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  assert.equal(subscriber.transport, "websocket");
  assert.equal(sockets, 1);
});
