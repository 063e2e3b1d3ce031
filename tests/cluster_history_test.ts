/**
 * Channel history in cluster mode, on real nodes (servers in this process) and a test Redis:
 * shared offsets, a resume on another node, the epoch after Redis restarts empty, and a node
 * that fills what it missed while its subscription was wedged.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startNode, until, untilHealthy } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { startProxy } from "./tcp_proxy.ts";

const HISTORY = { historySize: 100, historyTtl: 60 };

interface Published {
  recipients: number;
  offset: number;
  epoch: string;
}

async function publish(node: TestServer, channel: string, payload: unknown): Promise<Published> {
  const response = await node.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload }),
  });
  return (await readJson(response, 200)).value as Published;
}

async function joined(
  node: TestServer,
  token: string,
  since?: { offset: number; epoch: string },
): Promise<{ client: TestClient; reply: unknown }> {
  const client = await TestClient.connect(node.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  const channels = since === undefined
    ? { join: ["news"], leave: [] }
    : { join: ["news"], leave: [], since: { news: since } };
  const reply = await client.request({ channels }, "join");
  return { client, reply };
}

/** Two nodes on a test Redis, node a through a proxy that can wedge its subscription. */
async function wedgeableCluster(history: Partial<Config>) {
  const redis = await startRedis();
  const proxy = startProxy(redis.port);
  const a = await startNode(`redis://127.0.0.1:${proxy.port}`, "a", history);
  const b = await startNode(redis.url, "b", history);
  return {
    a,
    b,
    proxy,
    async [Symbol.asyncDispose]() {
      await b.shutdown();
      await a.shutdown();
      await proxy[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** Resolves once `node` reports itself degraded. */
function untilDegraded(node: TestServer): Promise<void> {
  return until(async () => {
    const response = await node.api("/health");
    await response.body?.cancel();
    return response.status === 503;
  }, `${node.cluster.nodeId} to notice the wedge`);
}

Deno.test("every node sees the same offsets, whichever node publishes", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", HISTORY);
  const token = await a.mintToken();
  const { client: onA } = await joined(a, token);
  await using _a = onA;
  const { client: onB } = await joined(b, token);
  await using _b = onB;
  const answers = [];
  for (let n = 1; n <= 10; n++) answers.push(await publish(n % 2 === 0 ? a : b, "news", n));
  assert.deepEqual(answers.map((answer) => answer.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(new Set(answers.map((answer) => answer.epoch)).size, 1);
  assert.ok(answers.every((answer) => answer.recipients === 2));
  for (const client of [onA, onB]) {
    for (let n = 1; n <= 10; n++) {
      assert.deepEqual(await client.next(), { message: n, channel: "news", offset: n });
    }
  }
  const { value } = await readJson(await b.api("/history/news/?since=8"), 200);
  assert.deepEqual(value, {
    epoch: answers[0]!.epoch,
    offset: 10,
    messages: [{ offset: 9, message: 9 }, { offset: 10, message: 10 }],
  });
});

Deno.test("a subscriber that left one node resumes on another with no gap and no duplicate", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", HISTORY);
  const token = await a.mintToken();
  const first = await joined(a, token);
  const { epoch } = (first.reply as { channels: { news: { epoch: string } } }).channels.news;
  for (let n = 1; n <= 3; n++) await publish(b, "news", n);
  for (let n = 1; n <= 3; n++) {
    assert.deepEqual(await first.client.next(), { message: n, channel: "news", offset: n });
  }
  await first.client[Symbol.asyncDispose]();
  for (let n = 4; n <= 6; n++) await publish(a, "news", n);
  const second = await joined(b, token, { offset: 3, epoch });
  await using client = second.client;
  assert.deepEqual(second.reply, {
    ref: "join",
    ok: true,
    channels: { news: { recovered: true, offset: 6, epoch } },
  });
  await publish(a, "news", 7);
  for (let n = 4; n <= 7; n++) {
    assert.deepEqual(await client.next(`offset ${n}`), { message: n, channel: "news", offset: n });
  }
});

Deno.test("after Redis restarts empty, the epoch changes and an old position is not recovered", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  const token = await a.mintToken();
  const before = await publish(a, "news", 1);
  await redis.kill();
  await redis.start();
  await untilHealthy(a, 5_000);
  const again = await a.mintToken(); // the old token went with Redis's data
  const { client, reply } = await joined(a, again, { offset: before.offset, epoch: before.epoch });
  await using _ = client;
  const state = (reply as { channels: { news: { recovered: boolean; epoch: string } } }).channels
    .news;
  assert.equal(state.recovered, false);
  assert.notEqual(state.epoch, before.epoch);
  assert.notEqual(token, again);
});

Deno.test("a node whose subscription was wedged delivers what it missed, in order, once", async () => {
  await using cluster = await wedgeableCluster(HISTORY);
  const { a, b, proxy } = cluster;
  const token = await a.mintToken();
  const { client } = await joined(a, token);
  await using _ = client;
  await publish(b, "news", 1);
  assert.deepEqual(await client.next(), { message: 1, channel: "news", offset: 1 });
  assert.equal(proxy.wedgeSubscribers(), 1);
  for (let n = 2; n <= 6; n++) await publish(b, "news", n);
  await untilDegraded(a);
  await untilHealthy(a);
  await publish(b, "news", 7);
  for (let n = 2; n <= 7; n++) {
    assert.deepEqual(await client.next(`offset ${n}`), { message: n, channel: "news", offset: n });
  }
  assert.equal(client.pending.length, 0);
});

Deno.test("a node that missed more than is kept closes its subscribers so that they resume", async () => {
  await using cluster = await wedgeableCluster({ historySize: 2, historyTtl: 60 });
  const { a, b, proxy } = cluster;
  const token = await a.mintToken();
  const { client } = await joined(a, token);
  await using _ = client;
  await publish(b, "news", 1);
  assert.deepEqual(await client.next(), { message: 1, channel: "news", offset: 1 });
  proxy.wedgeSubscribers();
  for (let n = 2; n <= 6; n++) await publish(b, "news", n);
  assert.deepEqual(await withTimeout(client.closed, "the resume-required close", 8_000), {
    code: 1012,
    reason: "missed messages: reconnect and resume",
  });
});

Deno.test("a channel left and joined again on a node starts from the new join's position", async () => {
  await using redis = await startRedis();
  const small = { historySize: 2, historyTtl: 60 };
  await using a = await startNode(redis.url, "a", small);
  const token = await a.mintToken();
  const first = await joined(a, token);
  await publish(a, "news", 1);
  assert.deepEqual(await first.client.next(), { message: 1, channel: "news", offset: 1 });
  await first.client[Symbol.asyncDispose]();
  for (let n = 2; n <= 5; n++) await publish(a, "news", n);
  const second = await joined(a, token);
  await using client = second.client;
  assert.equal(
    (second.reply as { channels: { news: { offset: number } } }).channels.news.offset,
    5,
  );
  await publish(a, "news", 6);
  assert.deepEqual(await client.next(), { message: 6, channel: "news", offset: 6 });
  await publish(a, "news", 7);
  assert.deepEqual(await client.next(), { message: 7, channel: "news", offset: 7 });
  assert.equal(client.socket.readyState, WebSocket.OPEN);
});

Deno.test("a quiet channel's subscriber gets what was published while its node's subscription was down", async () => {
  await using cluster = await wedgeableCluster(HISTORY);
  const { a, b, proxy } = cluster;
  const token = await a.mintToken();
  const { client } = await joined(a, token);
  await using _ = client;
  assert.equal(proxy.wedgeSubscribers(), 1);
  await publish(b, "news", 1);
  await publish(b, "news", 2);
  await untilDegraded(a);
  await untilHealthy(a);
  await publish(b, "news", 3);
  for (const n of [1, 2, 3]) {
    assert.deepEqual(await client.next(`offset ${n}`), { message: n, channel: "news", offset: n });
  }
});

Deno.test("a join with since while another node publishes gets every offset once", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", { historySize: 1000, historyTtl: 60 });
  const token = await a.mintToken();
  const { epoch } = await publish(b, "news", 0);
  let publishing = true;
  const publisher = (async () => {
    let last = 1;
    while (publishing && last < 400) last = (await publish(b, "news", last)).offset;
    return last;
  })();
  const { client } = await joined(a, token, { offset: 0, epoch });
  await using _ = client;
  publishing = false;
  const last = await publisher;
  const offsets: number[] = [];
  while (offsets.at(-1) !== last) {
    offsets.push(
      ((await client.next(`offset ${offsets.length + 1}`)) as { offset: number }).offset,
    );
  }
  assert.deepEqual(offsets, offsets.map((_, i) => i + 1));
});

Deno.test("a quick second join with since replays every message after it, once, on any node", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", HISTORY);
  const token = await a.mintToken();
  await publish(b, "news", 1);
  const { epoch } = await publish(b, "news", 2);
  const { client } = await joined(a, token);
  await using _ = client;
  const again = await client.request({
    channels: { join: ["news"], leave: [], since: { news: { offset: 0, epoch } } },
  }, "again");
  assert.deepEqual(again, {
    ref: "again",
    ok: true,
    channels: { news: { recovered: true, offset: 2, epoch } },
  });
  for (const n of [1, 2]) {
    assert.deepEqual(await client.next(`replayed ${n}`), {
      message: n,
      channel: "news",
      offset: n,
    });
  }
  await publish(b, "news", 3);
  assert.deepEqual(await client.next("live 3"), { message: 3, channel: "news", offset: 3 });
  assert.equal(client.pending.length, 0);
});

Deno.test("a join with history while Redis is down is undone and says why", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  const token = await a.mintToken();
  await using client = await TestClient.connect(a.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
  await redis.kill();
  await until(() => a.cluster.problems().length > 0, "a to notice Redis is gone");
  const reply = await client.request({ channels: { join: ["news"], leave: [] } }, 2) as {
    error: string;
  };
  assert.equal(reply.error, "channels.join: cannot be joined now (redis: unavailable)");
  assert.equal(a.hub.memberCount("news"), 0);
});
