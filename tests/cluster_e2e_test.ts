/**
 * Cluster mode end to end: `main.ts` nodes as child processes on one test redis-server. A
 * node killed with SIGKILL, and Redis killed and started again, with no node restarting.
 */

import assert from "node:assert/strict";
import { TestClient, withTimeout } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { CLUSTER_WAIT_MS, until } from "./cluster_helpers.ts";
import {
  type BoreasProcess,
  type Endpoints,
  endpointsOf,
  spawnBoreas,
  tempDir,
} from "./process_helpers.ts";
import { freePort, startRedis } from "./redis_server.ts";
import { channelEvents, startReceiver } from "./webhook_receiver.ts";

/** A spawned node and its endpoints. */
interface Node extends AsyncDisposable {
  readonly process: BoreasProcess;
  readonly endpoints: Endpoints;
  readonly banner: readonly string[];
  api(path: string, init?: RequestInit): Promise<Response>;
}

async function spawnNode(cwd: string, args: readonly string[]): Promise<Node> {
  const child = await spawnBoreas(["--api-port", "0", "--ws-port", "0", ...args], { cwd });
  try {
    const banner = await child.linesUntil();
    const endpoints = endpointsOf(banner);
    return {
      process: child,
      endpoints,
      banner,
      api: (path, init) => fetch(`${endpoints.apiUrl}${path}`, init),
      [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
    };
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

async function json(response: Promise<Response>, status = 200): Promise<unknown> {
  return (await readJson(await response, status)).value;
}

function post(node: Node, channel: string, payload: unknown, dryrun = false) {
  return node.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload, dryrun }),
  });
}

async function recipients(node: Node, channel: string): Promise<number | null> {
  const response = await post(node, channel, 0, true);
  if (response.status !== 200) {
    await response.body?.cancel();
    return null;
  }
  return ((await response.json()) as { recipients: number }).recipients;
}

async function status(response: Promise<Response>): Promise<number> {
  const answered = await response;
  await answered.body?.cancel();
  return answered.status;
}

async function subscribe(node: Node, token: string, channel: string): Promise<TestClient> {
  const client = await TestClient.connect(node.endpoints.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, 1), { ref: 1, ok: true });
  assert.deepEqual(await client.request({ channels: { join: [channel], leave: [] } }, 2), {
    ref: 2,
    ok: true,
  });
  return client;
}

Deno.test("three main.ts nodes on one Redis act as one server, and survive a node's SIGKILL", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const cluster = ["--redis-url", redis.url, "--node-timeout", "1.5"];
  await using a = await spawnNode(dir.path, [...cluster, "--node-id", "node-a"]);
  await using b = await spawnNode(dir.path, [...cluster, "--node-id", "node-b"]);
  await using c = await spawnNode(dir.path, [...cluster, "--node-id", "node-c"]);
  assert.equal(
    a.banner[a.banner.indexOf("Configuring servers...") + 1],
    `Cluster mode: node node-a, Redis at 127.0.0.1:${redis.port} (prefix boreas)`,
  );
  await until(async () => {
    const stats = await json(a.api("/stats")).catch(() => null) as { nodes?: string[] } | null;
    return stats?.nodes?.length === 3;
  }, "node-a to see three nodes");

  const { token } = await json(a.api("/token/", { method: "POST" })) as { token: string };
  await using onA = await subscribe(a, token, "room");
  await using onB = await subscribe(b, token, "room");
  await using onC = await subscribe(c, token, "room");
  assert.deepEqual(await json(post(b, "room", { hello: 1 })), { recipients: 3 });
  for (const client of [onA, onB, onC]) {
    assert.deepEqual(await client.next(), { message: { hello: 1 }, channel: "room" });
  }

  // node-b dies without a goodbye: within --node-timeout its subscriber stops counting.
  const killedAt = Date.now();
  b.process.kill("SIGKILL");
  await b.process.exited();
  const nodesOf = async (node: Node) =>
    ((await json(node.api("/stats"))) as { nodes: string[] }).nodes;
  await until(
    async () =>
      await recipients(a, "room") === 2 && await recipients(c, "room") === 2 &&
      (await nodesOf(a)).length === 2 && (await nodesOf(c)).length === 2,
    "node-b to stop counting on node-a and node-c",
    3_000,
  );
  assert.ok(Date.now() - killedAt <= 1_500 + 500, `took ${Date.now() - killedAt} ms`);
  const stats = await json(c.api("/stats")) as { nodes: string[]; connections: unknown };
  assert.deepEqual([...stats.nodes].sort(), ["node-a", "node-c"]);
  assert.deepEqual(stats.connections, { anonymous: 0, authenticated: 2 });
  const dump = await (await c.api("/debug/recipient-dump")).text();
  assert.ok(dump.includes(`\t - ${token}: 2\n`) && dump.endsWith("\t - room: 2\n"), dump);
  await onB.closed;

  // A revoke on node-c closes a connection on node-a.
  const { token: other } = await json(a.api("/token/", { method: "POST" })) as { token: string };
  await using revoked = await subscribe(a, other, "elsewhere");
  assert.equal(await status(c.api(`/token/${other}/`, { method: "DELETE" })), 204);
  assert.equal((await withTimeout(revoked.closed, "the revocation close", 1000)).code, 4001);

  // node-c drains on SIGTERM: its subscriber leaves the counts as soon as it has exited.
  c.process.kill("SIGTERM");
  assert.equal((await c.process.exited()).code, 0);
  assert.equal((await onC.closed).code, 1001);
  assert.equal(await recipients(a, "room"), 1);
  assert.deepEqual(await nodesOf(a), ["node-a"]);

  // A revoke on node-a closes its connection there too, and the token is refused.
  assert.equal(await status(a.api(`/token/${token}/`, { method: "DELETE" })), 204);
  assert.equal((await withTimeout(onA.closed, "the revocation close on node-a", 1000)).code, 4001);
});

/** How many authenticated connections each node has, and no anonymous one, while sampled. */
type Counts = Readonly<Record<string, number>>;

/** One sample: the ids a /stats or /nodes/ answer lists. */
type Listed = readonly string[];

/**
 * Asks `node` for `/stats` and `/nodes/`, one after the other, until both list what `isDone`
 * wants; rejects after `ms`. Every answer must list exactly the nodes it counts: a /stats
 * answer's connections are the sum of `counts` over the nodes it lists, each /nodes/ row shows
 * its node's count, and once one answer is done, every later one is too.
 */
async function sampleUntil(
  node: Node,
  { counts, isDone, what, ms = CLUSTER_WAIT_MS }: {
    counts: Counts;
    isDone: (listed: Listed) => boolean;
    what: string;
    ms?: number;
  },
): Promise<void> {
  const deadline = Date.now() + ms;
  const countOf = (id: string) => {
    assert.ok(Object.hasOwn(counts, id), `an unknown node ${id}`);
    return counts[id]!;
  };
  let hasBeenDone = false;
  const check = (listed: Listed, answer: string) => {
    assert.equal(new Set(listed).size, listed.length, answer);
    hasBeenDone ||= isDone(listed);
    assert.ok(!hasBeenDone || isDone(listed), `went back while waiting for ${what}: ${answer}`);
  };
  for (let sample = 1;; sample++) {
    const stats = await json(node.api("/stats")) as {
      nodes: string[];
      connections: { anonymous: number; authenticated: number };
    };
    const answer = `/stats #${sample}: ${JSON.stringify(stats.connections)} of ${stats.nodes}`;
    check(stats.nodes, answer);
    const counted = stats.nodes.reduce((sum, id) => sum + countOf(id), 0);
    assert.deepEqual(stats.connections, { anonymous: 0, authenticated: counted }, answer);
    const { nodes: rows } = await json(node.api("/nodes/")) as {
      nodes: Array<{ id: string; connections: { anonymous: number; authenticated: number } }>;
    };
    const listed = rows.map(({ id }) => id);
    check(listed, `/nodes/ #${sample}: ${JSON.stringify(rows.map((row) => row.connections))}`);
    for (const { id, connections } of rows) {
      assert.deepEqual(connections, { anonymous: 0, authenticated: countOf(id) }, `row ${id}`);
    }
    if (isDone(stats.nodes) && isDone(listed)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }
}

Deno.test("every /stats and /nodes/ answer lists exactly the nodes whose connections it counts", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  // node-a renews its liveness once a second, b and c twice, and b and c are forgotten 1.5 s
  // after they stop: which node notices a death first, and when, varies.
  await using a = await spawnNode(dir.path, ["--redis-url", redis.url, "--node-id", "a"]);
  const quick = ["--redis-url", redis.url, "--node-timeout", "1.5"];
  const { token } = await json(a.api("/token/", { method: "POST" })) as { token: string };
  await using _onA = await subscribe(a, token, "room");

  // Joining: counted from the first answer that lists it, and listed from the first that
  // counts it.
  await using b = await spawnNode(dir.path, [...quick, "--node-id", "b"]);
  await using onB = await subscribe(b, token, "room");
  await sampleUntil(a, {
    counts: { a: 1, b: 1 },
    isDone: (listed) => listed.join() === "a,b",
    what: "node-a to list b",
  });
  await using c = await spawnNode(dir.path, [...quick, "--node-id", "c"]);
  await using _onC = await subscribe(c, token, "room");
  await sampleUntil(a, {
    counts: { a: 1, b: 1, c: 1 },
    isDone: (listed) => [...listed].sort().join() === "a,b,c",
    what: "node-a to list c",
  });

  // SIGKILL: c and its connection vanish together, within its --node-timeout, whichever of a
  // and b forgets it first.
  c.process.kill("SIGKILL");
  await sampleUntil(a, {
    counts: { a: 1, b: 1, c: 1 },
    isDone: (listed) => !listed.includes("c"),
    what: "c to be forgotten",
    ms: 1_500,
  });
  await c.process.exited();

  // SIGTERM: b closes its connection, and stays counted with it until it leaves at once.
  b.process.kill("SIGTERM");
  await sampleUntil(a, {
    counts: { a: 1, b: 1 },
    isDone: (listed) => listed.join() === "a",
    what: "b to leave",
  });
  assert.equal((await b.process.exited()).code, 0);
  assert.equal((await onB.closed).code, 1001);
});

Deno.test("main.ts nodes answer 503 while Redis is down and recover on their own", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const cluster = ["--redis-url", redis.url];
  await using a = await spawnNode(dir.path, [...cluster, "--node-id", "a"]);
  await using b = await spawnNode(dir.path, [...cluster, "--node-id", "b"]);
  await until(async () => await status(b.api("/health")) === 200, "b to be healthy");
  const { token } = await json(a.api("/token/", { method: "POST" })) as { token: string };
  await using onA = await subscribe(a, token, "news");
  await using onB = await subscribe(b, token, "news");

  await redis.kill();
  await until(async () => await status(a.api("/health")) === 503, "a to be degraded");
  const health = await json(a.api("/health"), 503) as { status: string; errors: string[] };
  assert.deepEqual(health, { status: "degraded", errors: ["redis: unavailable"] });
  const refused = await json(post(b, "news", 1), 503) as { errors: string[] };
  assert.deepEqual(refused.errors, ["redis: unavailable"]);
  assert.equal(await status(a.api("/token/", { method: "POST" })), 503);

  await redis.start();
  await until(
    async () =>
      await recipients(a, "news") === 2 && await recipients(b, "news") === 2 &&
      await status(a.api("/health")) === 200,
    "delivery and counts to come back",
    5_000,
  );
  assert.deepEqual(await json(post(a, "news", "back")), { recipients: 2 });
  for (const client of [onA, onB]) {
    assert.deepEqual(await client.next(), { message: "back", channel: "news" });
  }
});

Deno.test("--reuse-port lets two main.ts nodes listen on the same two ports", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const cluster = ["--redis-url", redis.url, "--reuse-port"];
  await using a = await spawnNode(dir.path, [...cluster, "--node-id", "a"]);
  const ports = [
    "--api-port",
    String(a.endpoints.apiPort),
    "--ws-port",
    String(a.endpoints.wsPort),
  ];
  await using b = await spawnNode(dir.path, [...cluster, "--node-id", "b", ...ports]);
  assert.deepEqual(b.endpoints, a.endpoints);
  const { token } = await json(b.api("/token/", { method: "POST" })) as { token: string };
  await using client = await subscribe(a, token, "news");
  assert.deepEqual(
    await json(a.api("/broadcast/news/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload: 1, dryrun: true }),
    })),
    { recipients: 1 },
  );
  assert.equal(client.socket.readyState, WebSocket.OPEN);
});

Deno.test("a revoked --tokens-file token stays revoked when a node restarts with the file", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const file = await dir.write("tokens.txt", "file-token-1\nfile-token-2\n");
  const args = ["--redis-url", redis.url, "--tokens-file", file];
  {
    await using a = await spawnNode(dir.path, [...args, "--node-id", "a"]);
    await until(async () => await status(a.api("/health")) === 200, "a to be healthy");
    await until(
      async () =>
        await (await a.api("/debug/token-dump")).text() === "file-token-1\nfile-token-2\n",
      "the file's tokens to join the cluster",
    );
    assert.equal(await status(a.api("/token/file-token-1/", { method: "DELETE" })), 204);
  }
  await using again = await spawnNode(dir.path, [...args, "--node-id", "a2"]);
  await until(async () => await status(again.api("/health")) === 200, "a2 to be healthy");
  await until(
    async () => await (await again.api("/debug/token-dump")).text() === "file-token-2\n",
    "only the unrevoked token to be valid",
  );
  await using client = await TestClient.connect(again.endpoints.wsUrl);
  assert.deepEqual(await client.request({ access_token: "file-token-1" }), {
    ref: 1,
    error: "access_token: unknown token",
  });
});

Deno.test("the Redis password never shows in the banner, the logs or /health", async () => {
  await using dir = await tempDir();
  const secret = "pa55-w0rd-secret";
  // Nothing listens there: the node starts degraded and keeps trying.
  const port = freePort();
  await using node = await spawnNode(dir.path, [
    "--redis-url",
    `redis://user:${secret}@127.0.0.1:${port}/1`,
    "--log-level",
    "debug",
  ]);
  assert.ok(
    node.banner.some((line) => line.endsWith(`Redis at 127.0.0.1:${port} (prefix boreas)`)),
  );
  const health = await json(node.api("/health"), 503) as { errors: string[] };
  assert.match(health.errors[0]!, /^redis: /);
  assert.equal(
    (await json(node.api("/token/", { method: "POST" }), 503) as { errors: string[] }).errors
      .length,
    1,
  );
  node.process.kill("SIGTERM");
  const exit = await node.process.exited();
  assert.equal(exit.code, 0);
  const printed = [...exit.stdout, exit.stderr, JSON.stringify(health)].join("\n");
  assert.ok(!printed.includes(secret), printed);
});

Deno.test("a node killed with SIGKILL: the survivors send channel.vacated for its channels", async () => {
  await using receiver = startReceiver("whsec");
  await using redis = await startRedis();
  await using dir = await tempDir();
  const args = [
    "--redis-url",
    redis.url,
    "--node-timeout",
    "1.5",
    "--webhook-url",
    receiver.url,
    "--webhook-secret",
    "whsec",
    "--webhook-vacate-delay",
    "0.2",
  ];
  await using a = await spawnNode(dir.path, [...args, "--node-id", "a"]);
  await using b = await spawnNode(dir.path, [...args, "--node-id", "b"]);
  const { token } = await json(a.api("/token/", { method: "POST" })) as { token: string };
  await using onB = await subscribe(b, token, "solo");
  await receiver.until((events) => channelEvents(events, "solo").length === 1, "occupied");
  b.process.kill("SIGKILL");
  await b.process.exited();
  await receiver.until(
    (events) => channelEvents(events, "solo").includes("channel.vacated"),
    "vacated from the surviving node",
    5_000,
  );
  assert.deepEqual(channelEvents(receiver.events, "solo"), ["channel.occupied", "channel.vacated"]);
  await onB.closed;
});
