/**
 * `--history-max-bytes` bounds every channel's kept messages together: past it the oldest go
 * first, whichever channel they belong to, and a position behind them answers
 * `recovered: false`, as for a trim. Standalone, and for what a node keeps in Redis.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { startNode } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";

type Position = { offset: number; epoch: string };

/** A payload whose kept message costs about 1.1 KB: three fit in 4,000 bytes, four do not. */
const PAYLOAD = "x".repeat(1000);
const CAPPED: Partial<Config> = { historySize: 10, historyTtl: 300, historyMaxBytes: 4000 };

async function publish(server: TestServer, channel: string): Promise<Position> {
  const response = await server.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload: PAYLOAD }),
  });
  return (await readJson(response, 200)).value as Position;
}

/** What a fresh connection is told when it joins `channel` from `since`, and the offsets it
 * is then replayed (read until the live message published after the reply). */
async function resume(server: TestServer, channel: string, since: Position) {
  await using client = await TestClient.connect(server.wsUrl);
  await client.request({ access_token: await server.mintToken() }, "auth");
  const reply = await client.request({
    channels: { join: [channel], leave: [], since: { [channel]: since } },
  }) as { channels: Record<string, { recovered: boolean; offset: number }> };
  const live = await publish(server, channel);
  const offsets: number[] = [];
  while (offsets.at(-1) !== live.offset) {
    offsets.push((await client.next() as { offset: number }).offset);
  }
  return { recovered: reply.channels[channel]!.recovered, replayed: offsets.slice(0, -1) };
}

async function keptOffsets(server: TestServer, channel: string): Promise<number[]> {
  const { value } = await readJson(await server.api(`/history/${channel}/`), 200);
  return (value as { messages: Array<{ offset: number }> }).messages.map((m) => m.offset);
}

async function dropsTheOldestPastTheCap(server: TestServer) {
  const a = await publish(server, "a");
  await publish(server, "a");
  const b = await publish(server, "b");
  assert.deepEqual(await keptOffsets(server, "a"), [1, 2]);
  await publish(server, "b"); // the fourth message: a's first goes
  assert.deepEqual(await keptOffsets(server, "a"), [2]);
  assert.deepEqual(await keptOffsets(server, "b"), [1, 2]);
  assert.deepEqual(await resume(server, "a", { offset: 0, epoch: a.epoch }), {
    recovered: false,
    replayed: [],
  });
  // The live message of that resume, a3, pushed out a2; the next one, a4, pushes out b1.
  assert.deepEqual(await keptOffsets(server, "a"), [3]);
  assert.deepEqual(await resume(server, "a", { offset: 2, epoch: a.epoch }), {
    recovered: true,
    replayed: [3],
  });
  assert.deepEqual(await resume(server, "b", { offset: 0, epoch: b.epoch }), {
    recovered: false,
    replayed: [],
  });
}

Deno.test("--history-max-bytes drops the oldest messages of all channels past it", async () => {
  await using server = await startTestServer(CAPPED);
  await dropsTheOldestPastTheCap(server);
});

Deno.test("in cluster mode, --history-max-bytes drops the oldest messages a node kept in Redis", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", CAPPED);
  await dropsTheOldestPastTheCap(node);
  // Left kept: a3, a4 and b3 (whose publish pushed out b2).
  assert.equal(await redis.cli("XLEN", "boreas:{a}:history"), "2");
  assert.equal(await redis.cli("XLEN", "boreas:{b}:history"), "1");
});
