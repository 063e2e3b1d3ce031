/**
 * With history on, a channel keeps state only while it has subscribers or kept messages: a
 * connection that joins and leaves thousands of quiet channels (WebSocket or SSE) leaves
 * nothing behind, in this process or in Redis, and a position from a channel that had no
 * message still resumes correctly afterwards.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { MemoryHistory } from "../src/backend/memory_history.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startNode, until, untilHealthy } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";

const HISTORY: Partial<Config> = { historySize: 10, historyTtl: 300 };
const FRAMES = 20;
const PER_FRAME = 1000;

type Position = { offset: number; epoch: string };

async function publish(server: TestServer, channel: string, payload: unknown): Promise<Position> {
  const response = await server.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload }),
  });
  return (await readJson(response, 200)).value as Position;
}

async function authenticated(server: TestServer, token?: string): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  const auth = await client.request({ access_token: token ?? await server.mintToken() }, "auth");
  assert.deepEqual(auth, { ref: "auth", ok: true });
  return client;
}

/** Joins `FRAMES` batches of `PER_FRAME` new channels on one connection, each frame leaving
 * the batch before, then leaves the last batch. */
async function churn(client: TestClient): Promise<void> {
  const batch = (n: number) => Array.from({ length: PER_FRAME }, (_, i) => `churn${n}x${i}`);
  for (let n = 0; n < FRAMES; n++) {
    const channels = { join: batch(n), leave: n === 0 ? [] : batch(n - 1) };
    const reply = await client.request({ channels }, n) as { ok?: boolean };
    assert.equal(reply.ok, true, JSON.stringify(reply).slice(0, 200));
  }
  const last = { join: [], leave: batch(FRAMES - 1) };
  assert.deepEqual(await client.request({ channels: last }, "last"), {
    ref: "last",
    ok: true,
    channels: {},
  });
}

/** Opens `GET /events` for `channels`, reads its first event (the positions), and closes it. */
async function streamBriefly(server: TestServer, token: string, channels: string[]) {
  const base = server.wsUrl.replace(/^ws/, "http").replace(/\/$/, "");
  const query = channels.map((channel) => `channel=${channel}`).join("&");
  const response = await fetch(`${base}/events?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await reader.cancel();
  assert.match(text, /^id: /);
}

function memoryHistory(server: TestServer): MemoryHistory {
  const history = server.cluster.history;
  assert.ok(history instanceof MemoryHistory);
  return history;
}

Deno.test("joining and leaving thousands of quiet channels leaves no history state behind", async () => {
  await using server = await startTestServer(HISTORY);
  await publish(server, "kept", "a message");
  const history = memoryHistory(server);
  assert.equal(history.channelCount, 1);
  await using client = await authenticated(server);
  await churn(client);
  await until(() => history.channelCount === 1, "only the channel with a message to stay");
  assert.equal(server.hub.channelCount, 0);
});

Deno.test("SSE streams of quiet channels leave no history state behind once closed", async () => {
  await using server = await startTestServer(HISTORY);
  const token = await server.mintToken();
  const history = memoryHistory(server);
  for (let n = 0; n < 5; n++) {
    await streamBriefly(server, token, Array.from({ length: 200 }, (_, i) => `s${n}x${i}`));
  }
  await server.untilConnections(0);
  await until(() => history.channelCount === 0, "the streams' channels to be forgotten");
});

Deno.test("in cluster mode, churned quiet channels leave no keys in Redis", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", HISTORY);
  const token = await node.mintToken();
  await using client = await authenticated(node, token);
  await publish(node, "kept", "a message");
  const keyCount = async () => Number(await redis.cli("DBSIZE"));
  const baseline = await keyCount();
  await churn(client);
  for (let n = 0; n < 3; n++) {
    await streamBriefly(node, token, Array.from({ length: 200 }, (_, i) => `s${n}x${i}`));
  }
  await until(async () => await keyCount() === baseline, `Redis back to ${baseline} keys`);
  assert.equal(await redis.cli("EXISTS", "boreas:{kept}:meta"), "1");
});

/** A client's position in a channel that had no message, taken while it was subscribed and
 * kept after it left. */
async function quietPosition(server: TestServer, token: string): Promise<Position> {
  await using client = await authenticated(server, token);
  const reply = await client.request({ channels: { join: ["quiet"], leave: [] } }) as {
    channels: { quiet: Position };
  };
  assert.equal(reply.channels.quiet.offset, 0);
  return reply.channels.quiet;
}

async function resumeQuiet(server: TestServer, token: string, since: Position) {
  const client = await authenticated(server, token);
  const reply = await client.request({
    channels: { join: ["quiet"], leave: [], since: { quiet: since } },
  }) as { channels: { quiet: Position & { recovered: boolean } } };
  return { client, state: reply.channels.quiet };
}

/** Resumes from a position of "quiet" taken while it had no message, once `untilForgotten`
 * says the channel's state is gone: first with nothing published since, then (after a message
 * on the first resume) with one more published while nobody was subscribed. */
async function positionOfNoMessageResumes(
  server: TestServer,
  untilForgotten: () => Promise<void>,
) {
  const token = await server.mintToken();
  const since = await quietPosition(server, token);
  await server.untilMembers("quiet", 0);
  await untilForgotten();
  {
    const { client, state } = await resumeQuiet(server, token, since);
    await using _ = client;
    assert.deepEqual({ recovered: state.recovered, offset: state.offset }, {
      recovered: true,
      offset: 0,
    });
    await publish(server, "quiet", "live");
    assert.deepEqual(await client.next(), { message: "live", channel: "quiet", offset: 1 });
  }
  await server.untilMembers("quiet", 0);
  await publish(server, "quiet", "missed");
  const { client, state } = await resumeQuiet(server, token, since);
  await using _ = client;
  assert.deepEqual({ recovered: state.recovered, offset: state.offset }, {
    recovered: true,
    offset: 2,
  });
  assert.deepEqual(await client.next(), { message: "live", channel: "quiet", offset: 1 });
  assert.deepEqual(await client.next(), { message: "missed", channel: "quiet", offset: 2 });
}

Deno.test("a position in a channel with no message resumes once its state is gone", async () => {
  await using server = await startTestServer(HISTORY);
  const history = memoryHistory(server);
  await positionOfNoMessageResumes(server, async () => {
    await until(() => history.channelCount === 0, "the quiet channel to be forgotten");
  });
});

Deno.test("in cluster mode, a position in a channel with no message resumes once its keys are gone", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", HISTORY);
  const meta = "boreas:{quiet}:meta";
  await positionOfNoMessageResumes(node, async () => {
    await until(
      async () => await redis.cli("EXISTS", meta) === "0",
      "the quiet channel's meta to go",
    );
  });
});

/** Joins "quiet" (no message yet) and leaves, then publishes to it: the position taken has
 * missed that message. */
async function positionThenMessage(server: TestServer, token: string): Promise<Position> {
  const since = await quietPosition(server, token);
  await server.untilMembers("quiet", 0);
  await publish(server, "quiet", "lost");
  return since;
}

Deno.test("a position in a channel with no message from before a restart is not recovered", async () => {
  let since: Position;
  {
    await using before = await startTestServer(HISTORY);
    since = await positionThenMessage(before, await before.mintToken());
  }
  await using after = await startTestServer(HISTORY);
  const { client, state } = await resumeQuiet(after, await after.mintToken(), since);
  await using _ = client;
  assert.equal(state.recovered, false);
});

Deno.test("in cluster mode, a position in a channel with no message from before Redis restarted empty is not recovered", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", HISTORY);
  const since = await positionThenMessage(node, await node.mintToken());
  await redis.kill();
  await redis.start();
  await untilHealthy(node, 5_000);
  const { client, state } = await resumeQuiet(node, await node.mintToken(), since);
  await using _ = client;
  assert.equal(state.recovered, false);
});
