/**
 * Channel history when a channel's stream goes backwards in Redis, as after a failover that
 * promoted a replica lacking the last writes: real nodes (servers in this process) on a test
 * Redis whose channel keys the test puts back as they were a few messages earlier (DUMP and
 * RESTORE: the very state such a replica has). No offset a subscriber saw is given out again
 * under the same epoch, a resume past the top is not recovered, and a connected subscriber
 * whose node hears a used offset again is made to resume and told `recovered: false`.
 */

import assert from "node:assert/strict";
import type { RecoveryEvent } from "../client/mod.ts";
import { apiOf, nextEvent, subscriberOf } from "./client_helpers.ts";
import { broadcastThrough, getJson, startNode, until, untilHealthy } from "./cluster_helpers.ts";
import { TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { type RedisServer, startRedis } from "./redis_server.ts";
import { startProxy } from "./tcp_proxy.ts";

const HISTORY = { historySize: 100, historyTtl: 60 };

/** The keys of `news`'s history (keys.ts, default prefix). */
const NEWS_KEYS = ["boreas:{news}:meta", "boreas:{news}:history"];

interface Position {
  readonly offset: number;
  readonly epoch: string;
}

/** Keeps a copy of `news`'s history keys as they are now, in Redis itself. */
async function snapshot(redis: RedisServer): Promise<void> {
  const copy = "for _, key in ipairs(KEYS) do " +
    "redis.call('SET', key .. ':copy', redis.call('DUMP', key)) end";
  await redis.cli("EVAL", copy, "2", ...NEWS_KEYS);
}

/** Puts the copy back: what a replica that stopped receiving writes at the copy has. */
async function rollBack(redis: RedisServer): Promise<void> {
  const restore = "for _, key in ipairs(KEYS) do " +
    "redis.call('RESTORE', key, 60000, redis.call('GET', key .. ':copy'), 'REPLACE') end";
  await redis.cli("EVAL", restore, "2", ...NEWS_KEYS);
}

/** Publishes `payload` to `news` through `node`; returns where it was kept. */
async function publish(node: TestServer, payload: unknown): Promise<Position> {
  const { status, body } = await broadcastThrough(node, "news", payload);
  assert.equal(status, 200);
  return body as unknown as Position;
}

/** A client of `node` that joined `news` (after `since`, if given); returns the join's state
 * of `news`. */
async function joinNews(node: TestServer, token: string, since?: Position) {
  const client = await TestClient.connect(node.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  const channels = { join: ["news"], leave: [], ...(since ? { since: { news: since } } : {}) };
  const reply = await client.request({ channels }, "join") as {
    channels: { news: Position & { recovered?: boolean } };
  };
  return { client, state: reply.channels.news };
}

/** Publishes 1 to 8 through `node`, with a copy of the history taken after 6; returns the
 * epoch. */
async function publishEightCopyingSix(node: TestServer, redis: RedisServer): Promise<string> {
  const { epoch } = await publish(node, 1);
  for (let n = 2; n <= 8; n++) {
    const { offset, epoch: kept } = await publish(node, n);
    assert.deepEqual({ offset, epoch: kept }, { offset: n, epoch });
    if (n === 6) await snapshot(redis);
  }
  return epoch;
}

async function receiveOneToEight(client: TestClient): Promise<void> {
  for (let n = 1; n <= 8; n++) {
    assert.deepEqual(await client.next(`offset ${n}`), { message: n, channel: "news", offset: n });
  }
}

Deno.test("a resume from past the top is not recovered; only a node that delivered past it starts a new epoch", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  const token = await a.mintToken();
  const { client: staying } = await joinNews(a, token);
  await using _staying = staying;
  const epoch = await publishEightCopyingSix(a, redis);
  await receiveOneToEight(staying);
  await rollBack(redis);

  // A node that never saw the channel has only the client's word, which any client allowed
  // to join could give: the client is not recovered, and the kept messages stay.
  await using fresh = await startNode(redis.url, "fresh", HISTORY);
  const { client: claiming, state: claimed } = await joinNews(fresh, token, { offset: 8, epoch });
  await using _claiming = claiming;
  assert.deepEqual(claimed, { recovered: false, offset: 6, epoch });
  const page = await getJson(a, "/history/news/") as { epoch: string; messages: unknown[] };
  assert.deepEqual([page.epoch, page.messages.length], [epoch, 6]);

  // Node a delivered 8: the channel begins a new epoch before the join is answered.
  const { client, state } = await joinNews(a, token, { offset: 8, epoch });
  await using _ = client;
  assert.equal(state.recovered, false);
  assert.notEqual(state.epoch, epoch);
  assert.equal(state.offset, 0);
  // Offset 6 was kept, but its epoch is gone: 7 would have been another message.
  const { client: atSix, state: fromSix } = await joinNews(a, token, { offset: 6, epoch });
  await using _atSix = atSix;
  assert.deepEqual(fromSix, { recovered: false, offset: 0, epoch: state.epoch });
  // The subscriber that has all of the old epoch goes on into the new one.
  assert.deepEqual(await publish(a, 9), { recipients: 4, offset: 1, epoch: state.epoch });
  for (const each of [staying, client, atSix]) {
    assert.deepEqual(await each.next(), { message: 9, channel: "news", offset: 1 });
  }
  assert.equal(staying.socket.readyState, WebSocket.OPEN);
});

Deno.test("a node that saw a position past the top publishes under a new epoch; a node behind it makes its subscribers resume", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", HISTORY);
  await using late = await startNode(redis.url, "late", HISTORY);
  const token = await a.mintToken();
  const { client: onA } = await joinNews(a, token);
  await using _a = onA;
  const { client: onB } = await joinNews(b, token);
  await using _b = onB;
  const epoch = await publishEightCopyingSix(a, redis);
  await receiveOneToEight(onA);
  await receiveOneToEight(onB);
  await rollBack(redis);
  // Joined after the loss: it was told 6, and never had 7 and 8, which onA and onB had.
  const { client: onLate, state: lateState } = await joinNews(late, token);
  await using _late = onLate;
  assert.deepEqual(lateState, { offset: 6, epoch });

  // b never published, but delivered 8: its broadcast (of many channels) does not reuse 7.
  const response = await b.api("/broadcast/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ channels: ["news"], payload: 9 }),
  });
  const { positions } = await response.json() as { positions: { news: Position } };
  assert.equal(positions.news.offset, 1);
  assert.notEqual(positions.news.epoch, epoch);
  for (const client of [onA, onB]) {
    assert.deepEqual(await client.next(), { message: 9, channel: "news", offset: 1 });
  }
  assert.deepEqual(await withTimeout(onLate.closed, "the late node's subscriber to be closed"), {
    code: 1012,
    reason: "missed messages: reconnect and resume",
  });
  assert.deepEqual(onLate.pending, []);
  const { client: back, state } = await joinNews(late, token, { offset: 6, epoch });
  await using _back = back;
  assert.deepEqual(state, { recovered: false, ...positions.news });
  assert.equal(onA.socket.readyState, WebSocket.OPEN);
  assert.equal(onB.socket.readyState, WebSocket.OPEN);
});

Deno.test("a connected subscriber whose node hears a used offset again is made to resume, and told recovered: false", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  // A node that never saw the channel: nothing tells it that the stream went backwards.
  await using fresh = await startNode(redis.url, "fresh", HISTORY);
  const token = await a.mintToken();
  const recoveries: RecoveryEvent[] = [];
  await using subscriber = subscriberOf(a, token, {
    channels: ["news"],
    onRecovery: (event) => recoveries.push(event),
  });
  const events = subscriber.events()[Symbol.asyncIterator]();
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  const epoch = await publishEightCopyingSix(a, redis);
  for (let n = 1; n <= 8; n++) {
    assert.deepEqual(await nextEvent(events, `offset ${n}`), {
      type: "message",
      channel: "news",
      message: n,
      offset: n,
    });
  }
  await rollBack(redis);

  // Offset 7 again, with another message: node a delivers none of it.
  assert.deepEqual(await publish(fresh, "reused"), { recipients: 1, offset: 7, epoch });
  const recovery = await nextEvent(events, "the recovery event");
  assert.deepEqual(recoveries, [recovery]);
  const now = recovery as RecoveryEvent;
  assert.notEqual(now.epoch, epoch);
  assert.deepEqual(now, {
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: 0,
    epoch: now.epoch,
    since: { offset: 8, epoch },
  });
  assert.deepEqual(await publish(fresh, "after"), { recipients: 1, offset: 1, epoch: now.epoch });
  assert.deepEqual(await nextEvent(events, "the message after"), {
    type: "message",
    channel: "news",
    message: "after",
    offset: 1,
  });
  assert.deepEqual(subscriber.positions, { news: { offset: 1, epoch: now.epoch } });
  const history = await apiOf(a).history("news");
  assert.deepEqual([history.epoch, history.messages.length], [now.epoch, 1]);
});

Deno.test("a node back from a wedged subscription finds another message at the offset it delivered last, and makes its subscribers resume", async () => {
  await using redis = await startRedis();
  await using proxy = startProxy(redis.port);
  await using a = await startNode(`redis://127.0.0.1:${proxy.port}`, "a", HISTORY);
  await using fresh = await startNode(redis.url, "fresh", HISTORY);
  const token = await a.mintToken();
  const { client } = await joinNews(a, token);
  await using _ = client;
  const epoch = await publishEightCopyingSix(a, redis);
  await receiveOneToEight(client);
  assert.equal(proxy.wedgeSubscribers(), 1);
  await rollBack(redis);
  // 7, 8 and 9 again, by a node that cannot know: the top is past node a's position again.
  for (const offset of [7, 8, 9]) {
    assert.deepEqual(await publish(fresh, `again ${offset}`), { recipients: 1, offset, epoch });
  }
  await until(async () => {
    const response = await a.api("/health");
    await response.body?.cancel();
    return response.status === 503;
  }, "a to notice the wedge");
  await untilHealthy(a);
  assert.deepEqual(await withTimeout(client.closed, "the resume-required close", 4_000), {
    code: 1012,
    reason: "missed messages: reconnect and resume",
  });
  assert.deepEqual(client.pending, [], "nothing of the reused offsets delivered");
  const { client: back, state } = await joinNews(a, token, { offset: 8, epoch });
  await using _back = back;
  assert.equal(state.recovered, false);
  assert.notEqual(state.epoch, epoch);
});
