/**
 * The history guarantee end to end: a publisher sends 200 messages a second to one channel
 * while a subscriber, through the client library, is cut off at random moments (closed from the
 * server's side, or its TCP connection killed); it must receive every offset exactly once, in
 * order. Standalone, in a cluster where it reconnects to the other node each time, and across
 * Redis restarts with and without its data.
 */

import assert from "node:assert/strict";
import { BoreasApi, BoreasSubscriber, type RecoveryEvent } from "../client/mod.ts";
import type { Config } from "../src/config.ts";
import { FAST_RECONNECT } from "./client_helpers.ts";
import { startNode, untilHealthy } from "./cluster_helpers.ts";
import { startTestServer, type TestServer } from "./helpers.ts";
import { type RedisServer, startRedis } from "./redis_server.ts";
import { startProxy, type TcpProxy } from "./tcp_proxy.ts";

const HISTORY: Partial<Config> = { historySize: 1000, historyTtl: 60 };
const RATE_PER_SECOND = 200;
const CHANNEL = "feed";

/** What one run saw. */
interface Run {
  /** The offsets the publisher was given, in order. */
  readonly published: number[];
  /** The offsets the subscriber received, in order. */
  readonly received: number[];
  readonly recoveries: RecoveryEvent[];
}

/** Publishes at `RATE_PER_SECOND` for `seconds` through `publishers` in turn, while `cut` runs
 * `cuts` times at random moments and `during(i)` runs once at `duringAt` (a fraction of the
 * run); the subscriber connects through `proxy`. */
async function run(
  { publishers, proxy, token, seconds, cuts, cut, during }: {
    publishers: readonly TestServer[];
    proxy: TcpProxy;
    token: string;
    seconds: number;
    cuts: number;
    cut: (i: number) => void;
    during?: { at: number; action: () => Promise<void> };
  },
): Promise<Run> {
  const recoveries: RecoveryEvent[] = [];
  await using subscriber = new BoreasSubscriber({
    url: `ws://127.0.0.1:${proxy.port}/`,
    token,
    channels: [CHANNEL],
    reconnect: FAST_RECONNECT,
    onRecovery: (event) => recoveries.push(event),
  });
  await subscriber.untilOpen();
  const published: number[] = [];
  const received: number[] = [];
  const total = RATE_PER_SECOND * seconds;
  const receiving = (async () => {
    for await (const { offset } of subscriber) {
      received.push(offset ?? -1);
      if (received.length >= total || offset === published.at(-1) && published.length === total) {
        return;
      }
    }
  })();
  const started = Date.now();
  // One cut at a random moment in each of `cuts` equal slots, so that no two fall into one
  // reconnection and each meets a live connection.
  const slotMs = (seconds * 1000) / cuts;
  const cutTimes = Array.from({ length: cuts }, (_, k) => (k + 0.2 + Math.random() * 0.6) * slotMs);
  let nextCut = 0;
  let hasDone = during === undefined;
  for (let i = 0; i < total; i++) {
    // Paced to the rate: this is the load itself, not a wait for an event.
    const due = started + (i * 1000) / RATE_PER_SECOND;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    while (nextCut < cuts && cutTimes[nextCut]! <= Date.now() - started) cut(nextCut++);
    if (!hasDone && i >= total * during!.at) {
      hasDone = true;
      await during!.action();
    }
    published.push(await publishUntilAccepted(publishers[i % publishers.length]!, i));
  }
  await withDeadline(
    receiving,
    10_000,
    () => `received ${received.length} of ${total} (last ${received.at(-1)})`,
  );
  return { published, received, recoveries };
}

/** Publishes `n`; while the server answers 503 (Redis is restarting) tries again. */
async function publishUntilAccepted(server: TestServer, n: number): Promise<number> {
  const api = new BoreasApi({ url: server.apiUrl });
  for (;;) {
    try {
      const { offset } = await api.publish(CHANNEL, { n });
      return offset!;
    } catch (error) {
      if ((error as { status?: number }).status !== 503) throw error;
    }
  }
}

async function withDeadline(work: Promise<void>, ms: number, what: () => string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms);
  });
  try {
    await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Cuts the `i`-th time: odd ones kill the TCP connection, even ones close it from the server. */
function cutter(proxy: TcpProxy, servers: readonly TestServer[], token: string) {
  return (i: number) => {
    if (i % 2 === 1) proxy.cutAll();
    else for (const server of servers) server.hub.disconnectToken(token, 4500, "test cut");
  };
}

function assertEveryOffsetOnce({ published, received }: Run): void {
  assert.deepEqual(published, published.map((_, i) => published[0]! + i), "offsets have no gaps");
  assert.deepEqual(received, published);
}

Deno.test("standalone: a subscriber cut off 20 times receives every offset once, in order", async () => {
  await using server = await startTestServer(HISTORY);
  let connections = 0;
  await using proxy = startProxy(() => (connections++, server.wsAddr.port));
  const token = await server.mintToken();
  const result = await run({
    publishers: [server],
    proxy,
    token,
    seconds: 10,
    cuts: 20,
    cut: cutter(proxy, [server], token),
  });
  assertEveryOffsetOnce(result);
  assert.deepEqual(result.recoveries, []);
  assert.ok(connections > 20, `the subscriber connected ${connections} times`);
});

/** Runs the guarantee on two nodes of `redis`, publishing through both in turn, with the
 * subscriber sent to the other node at each reconnection; `during` is given the nodes. */
async function acrossTwoNodes(
  redis: RedisServer,
  { seconds, cuts, during }: {
    seconds: number;
    cuts: number;
    during?: { at: number; action: (nodes: readonly TestServer[]) => Promise<void> };
  },
): Promise<Run & { connections: number }> {
  await using a = await startNode(redis.url, "a", HISTORY);
  await using b = await startNode(redis.url, "b", HISTORY);
  let connections = 0;
  await using proxy = startProxy(() => [a, b][connections++ % 2]!.wsAddr.port);
  const token = await a.mintToken();
  const result = await run({
    publishers: [a, b],
    proxy,
    token,
    seconds,
    cuts,
    cut: cutter(proxy, [a, b], token),
    ...(during === undefined
      ? {}
      : { during: { at: during.at, action: () => during.action([a, b]) } }),
  });
  return { ...result, connections };
}

Deno.test("cluster: reconnecting to the other node each time, every offset once, in order", async () => {
  await using redis = await startRedis();
  const result = await acrossTwoNodes(redis, { seconds: 10, cuts: 20 });
  assertEveryOffsetOnce(result);
  assert.deepEqual(result.recoveries, []);
  assert.ok(result.connections > 20, `the subscriber connected ${result.connections} times`);
});

async function restartMidway(redis: RedisServer, nodes: readonly TestServer[]): Promise<void> {
  await redis.kill();
  await redis.start();
  for (const node of nodes) await untilHealthy(node, 5_000);
}

Deno.test("cluster: across a Redis restart that keeps its data, the subscriber resumes", async () => {
  await using redis = await startRedis({ appendOnly: true });
  const result = await acrossTwoNodes(redis, {
    seconds: 3,
    cuts: 4,
    during: { at: 0.5, action: (nodes) => restartMidway(redis, nodes) },
  });
  assertEveryOffsetOnce(result);
  assert.deepEqual(result.recoveries, []);
});

Deno.test("cluster: across a Redis restart that loses its data, the subscriber is told", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", HISTORY);
  await using proxy = startProxy(a.wsAddr.port);
  const token = await a.mintToken();
  const api = new BoreasApi({ url: a.apiUrl });
  const { promise: told, resolve: tell } = Promise.withResolvers<RecoveryEvent>();
  await using subscriber = new BoreasSubscriber({
    url: `ws://127.0.0.1:${proxy.port}/`,
    token,
    channels: [CHANNEL],
    reconnect: FAST_RECONNECT,
    onRecovery: tell,
  });
  await subscriber.untilOpen();
  const iterator = subscriber[Symbol.asyncIterator]();
  const before = await api.publish(CHANNEL, "before");
  assert.equal((await iterator.next()).value?.offset, before.offset);

  // Redis comes back empty. The subscriber's reconnect waits until the token, lost with the
  // data, is put back as an operator would; its channel's history cannot be.
  const release = proxy.hold();
  await redis.kill();
  await redis.start();
  await redis.cli("ZADD", "boreas:{tokens}", "1", token);
  await redis.cli(
    "HSET",
    "boreas:{tokens}:grants",
    token,
    '{"channels": null, "expires_at": null, "user": null}',
  );
  release();
  await untilHealthy(a, 5_000);
  const event = await withDeadlineValue(told, 5_000, "the recovery event");
  assert.deepEqual({ channel: event.channel, recovered: event.recovered }, {
    channel: CHANNEL,
    recovered: false,
  });
  assert.equal(event.since.epoch, before.epoch);
  assert.notEqual(event.epoch, before.epoch);
  const after = await api.publish(CHANNEL, "after");
  const next = await iterator.next();
  assert.deepEqual({ message: next.value?.message, offset: next.value?.offset }, {
    message: "after",
    offset: after.offset,
  });
});

async function withDeadlineValue<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let value: T | undefined;
  await withDeadline(work.then((v) => void (value = v)), ms, () => what);
  return value!;
}
