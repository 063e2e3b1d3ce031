import assert from "node:assert/strict";
import { createApi } from "../src/api/mod.ts";
import { Metrics } from "../src/metrics.ts";
import { apiContext, startTestServer, TestClient, type TestServer } from "./helpers.ts";

function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`http://boreas.test${path}`, { headers });
}

Deno.test("GET /health answers 200 ok while serving", async () => {
  const api = createApi(apiContext());
  const response = await api(get("/health"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(await response.text(), '{"status": "ok"}');
});

Deno.test("GET /health answers 503 once a shutdown has begun, without a key", async () => {
  let isShuttingDown = false;
  const api = createApi(apiContext({ apiKeys: ["k1"], isShuttingDown: () => isShuttingDown }));
  const before = await api(get("/health"));
  assert.equal(before.status, 200);
  await before.body?.cancel();
  isShuttingDown = true;
  const response = await api(get("/health"));
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), { status: "shutting down" });
});

Deno.test("GET /stats counts uptime from the server's start, in whole seconds", async () => {
  const api = createApi(apiContext({ metrics: new Metrics(Date.now() - 90_000) }));
  const response = await api(get("/stats"));
  const stats = await response.json();
  assert.equal(response.status, 200);
  assert.equal(stats.uptime_seconds, 90);
});

/** A server with one authenticated subscriber of `news` and one anonymous connection. */
async function subscribed(server: TestServer) {
  const subscriber = await TestClient.connect(server.wsUrl);
  const anonymous = await TestClient.connect(server.wsUrl);
  const token = await server.mintToken();
  assert.deepEqual(await subscriber.request({ access_token: token }, 1), { ref: 1, ok: true });
  subscriber.send({ channels: { join: ["news"], leave: [] } });
  await server.untilMembers("news", 1);
  await server.untilConnections(2);
  return { subscriber, anonymous };
}

async function broadcast(server: TestServer, body: unknown): Promise<unknown> {
  const response = await server.api("/broadcast/news/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200);
  return await response.json();
}

async function stats(server: TestServer): Promise<Record<string, unknown>> {
  const response = await server.api("/stats");
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = await response.json();
  assert.equal(response.status, 200);
  return body;
}

Deno.test("GET /stats reports connections, tokens, channels and broadcasts", async () => {
  await using server = await startTestServer();
  const { subscriber, anonymous } = await subscribed(server);
  await using _subscriber = subscriber;
  await using _anonymous = anonymous;
  const before = await stats(server);
  assert.deepEqual(before.connections, { anonymous: 1, authenticated: 1 });
  assert.equal(before.tokens, 1);
  assert.equal(before.channels, 1);
  assert.deepEqual(
    [before.messages_published, before.frames_delivered, before.slow_consumers_dropped],
    [0, 0, 0],
  );
  assert.deepEqual(await broadcast(server, { payload: { n: 1 } }), { recipients: 1 });
  assert.deepEqual(await subscriber.next("the broadcast"), { message: { n: 1 }, channel: "news" });
  // A dry run publishes nothing and is not counted.
  assert.deepEqual(await broadcast(server, { payload: 2, dryrun: true }), { recipients: 1 });
  const after = await stats(server);
  assert.deepEqual([after.messages_published, after.frames_delivered], [1, 1]);
  assert.equal(typeof after.uptime_seconds, "number");
  const memory = after.memory as Record<string, number>;
  assert.ok(memory.rss_bytes! > 0 && memory.heap_used_bytes! > 0, JSON.stringify(memory));
  assert.deepEqual(Object.keys(after).sort(), [
    "channels",
    "client_publications",
    "connections",
    "connections_closed_for_limits",
    "connections_refused",
    "frames_delivered",
    "memory",
    "messages_published",
    "node",
    "nodes",
    "slow_consumers_dropped",
    "tokens",
    "uptime_seconds",
    "webhook_events_dropped",
  ]);
});

Deno.test("standalone, GET /stats and GET /nodes/ show the one node, under its generated id", async () => {
  await using server = await startTestServer();
  const { subscriber, anonymous } = await subscribed(server);
  await using _subscriber = subscriber;
  await using _anonymous = anonymous;
  const { node, nodes } = await stats(server) as { node: Record<string, unknown>; nodes: string[] };
  assert.match(node.id as string, /^[0-9a-f]{12}$/);
  assert.equal(node.id, server.cluster.nodeId);
  assert.deepEqual(nodes, [node.id]);
  assert.deepEqual(node.connections, { anonymous: 1, authenticated: 1 });
  assert.equal(node.channels, 1);
  const response = await server.api("/nodes/");
  const rows = (await response.json()).nodes as Record<string, unknown>[];
  assert.deepEqual(rows.map(({ id, connections, channels }) => ({ id, connections, channels })), [
    { id: node.id, connections: { anonymous: 1, authenticated: 1 }, channels: 1 },
  ]);
  const metrics = await (await server.api("/metrics")).text();
  assert.ok(metrics.includes(`boreas_node_info{node="${node.id}"} 1\n`), metrics);
});

Deno.test("GET /metrics renders Prometheus text that reflects a broadcast", async () => {
  await using server = await startTestServer();
  const { subscriber, anonymous } = await subscribed(server);
  await using _subscriber = subscriber;
  await using _anonymous = anonymous;
  assert.deepEqual(await broadcast(server, { payload: "hello" }), { recipients: 1 });
  assert.deepEqual(await subscriber.next("the broadcast"), { message: "hello", channel: "news" });
  const response = await server.api("/metrics");
  const text = await response.text();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (
    const line of [
      "# TYPE boreas_messages_published_total counter",
      "boreas_messages_published_total 1",
      "boreas_frames_delivered_total 1",
      "boreas_broadcast_fanout_seconds_count 1",
      'boreas_broadcast_fanout_seconds_bucket{le="+Inf"} 1',
      'boreas_connections{state="anonymous"} 1',
      'boreas_connections{state="authenticated"} 1',
      "boreas_tokens 1",
      "boreas_channels 1",
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `${line} in\n${text}`);
  }
});
