/**
 * Join and leave events end to end: `main.ts` nodes as child processes on one test
 * redis-server, one of them killed with SIGKILL.
 */

import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import { assertNothingReceived, closeClient, readJson } from "./integration_helpers.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";
import { startRedis } from "./redis_server.ts";

/** A spawned node: its process and where to reach it. */
interface Node extends AsyncDisposable {
  readonly process: BoreasProcess;
  readonly apiUrl: string;
  readonly wsUrl: string;
}

async function spawnNode(cwd: string, args: readonly string[]): Promise<Node> {
  const child = await spawnBoreas(["--api-port", "0", "--ws-port", "0", ...args], { cwd });
  try {
    const { apiUrl, wsUrl } = endpointsOf(await child.linesUntil());
    return {
      process: child,
      apiUrl,
      wsUrl,
      [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
    };
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

/** A client of `node` authenticated as `user` and in `channels`, with its join reply. */
async function arrive(
  node: Node,
  user: string,
  channels: readonly string[] = ["room"],
): Promise<[TestClient, unknown]> {
  const response = await fetch(`${node.apiUrl}/token/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  const { token } = (await readJson(response, 200)).value as { token: string };
  const client = await TestClient.connect(node.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, 1), { ref: 1, ok: true });
  return [client, await client.request({ channels: { join: channels, leave: [] } }, 2)];
}

/** The flags every node of these tests shares: the test Redis, join and leave events on
 * `joinLeave` with a short `--leave-delay`, and `nodeTimeout`. */
function nodeArgs(
  redisUrl: string,
  { nodeTimeout, joinLeave }: { nodeTimeout: string; joinLeave: string },
): string[] {
  return [
    ...["--redis-url", redisUrl, "--node-timeout", nodeTimeout],
    ...["--join-leave", joinLeave, "--leave-delay", "0.2"],
  ];
}

function event(change: "joined" | "left", user: string, channel = "room") {
  return { channel, [change]: { user } };
}

Deno.test("a SIGKILLed node's users leave once, on the survivors, after --node-timeout", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const args = nodeArgs(redis.url, { nodeTimeout: "1.5", joinLeave: "room" });
  await using a = await spawnNode(dir.path, [...args, "--node-id", "a"]);
  await using b = await spawnNode(dir.path, [...args, "--node-id", "b"]);
  await using c = await spawnNode(dir.path, [...args, "--node-id", "c"]);
  const [bob] = await arrive(a, "bob");
  await using _bob = bob;
  const [carol] = await arrive(c, "carol");
  await using _carol = carol;
  assert.deepEqual(await bob.next(), event("joined", "carol"));
  const [alice, reply] = await arrive(b, "alice");
  await using _alice = alice;
  assert.deepEqual((reply as { members: string[] }).members.sort(), ["alice", "bob", "carol"]);
  // A second tab on a survivor: alice stays, and her first tab's node dies.
  const [second] = await arrive(c, "alice");
  const [ann] = await arrive(b, "ann");
  await using _ann = ann;
  for (const observer of [bob, carol]) {
    assert.deepEqual(await observer.next(), event("joined", "alice"));
    assert.deepEqual(await observer.next(), event("joined", "ann"));
  }
  assert.deepEqual(await second.next(), event("joined", "ann"));

  b.process.kill("SIGKILL");
  await b.process.exited();
  for (const observer of [bob, carol, second]) {
    assert.deepEqual(await observer.next("ann's left", 6_000), event("left", "ann"));
  }
  // Reaped once: nothing of node b is left to reap again.
  assert.equal(
    await redis.cli("EXISTS", "boreas:{nodes}:b:members", "boreas:{room}:users:b"),
    "0",
  );
  assert.equal(await redis.cli("SISMEMBER", "boreas:{nodes}:members", "b"), "0");
  // Nothing else came, and nothing more comes: one who comes and goes is all they see next.
  const [dave] = await arrive(a, "dave");
  for (const observer of [bob, carol, second]) {
    assert.deepEqual(await observer.next(), event("joined", "dave"));
  }
  await closeClient(dave);
  for (const observer of [bob, carol, second]) {
    assert.deepEqual(await observer.next("dave's left", 3_000), event("left", "dave"));
    await assertNothingReceived(observer);
  }
  await closeClient(second);
  assert.deepEqual(await bob.next("alice's left", 3_000), event("left", "alice"));
  await alice.closed;
  await ann.closed;
});

Deno.test("a node restarted under the same --node-id before it is reaped: its old users leave", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const args = nodeArgs(redis.url, { nodeTimeout: "30", joinLeave: "room" });
  await using a = await spawnNode(dir.path, [...args, "--node-id", "a"]);
  const first = await spawnNode(dir.path, [...args, "--node-id", "b"]);
  const [bob] = await arrive(a, "bob");
  await using _bob = bob;
  const [alice] = await arrive(first, "alice");
  await using _alice = alice;
  assert.deepEqual(await bob.next("alice's joined"), event("joined", "alice"));
  first.process.kill("SIGKILL");
  await first.process.exited();
  await alice.closed;
  // Long before --node-timeout: only the new process can say that alice is gone.
  await using _second = await spawnNode(dir.path, [...args, "--node-id", "b"]);
  assert.deepEqual(await bob.next("alice's left", 5_000), event("left", "alice"));
  const [carol, reply] = await arrive(a, "carol");
  await using _carol = carol;
  assert.deepEqual((reply as { members: string[] }).members.toSorted(), ["bob", "carol"]);
});

Deno.test("a SIGKILLed node's users of several channels each leave each once, across the cluster", async () => {
  await using redis = await startRedis();
  await using dir = await tempDir();
  const args = nodeArgs(redis.url, { nodeTimeout: "1.5", joinLeave: "room:*" });
  const rooms = ["room:1", "room:2", "room:3"];
  await using a = await spawnNode(dir.path, [...args, "--node-id", "a"]);
  await using b = await spawnNode(dir.path, [...args, "--node-id", "b"]);
  await using c = await spawnNode(dir.path, [...args, "--node-id", "c"]);
  const [bob] = await arrive(a, "bob", rooms);
  await using _bob = bob;
  const [carol] = await arrive(c, "carol", rooms);
  await using _carol = carol;
  assert.deepEqual(
    await nextEvents(bob, 3),
    sortedEvents(rooms.map((room) => event("joined", "carol", room))),
  );
  const [alice] = await arrive(b, "alice", rooms);
  await using _alice = alice;
  const [ann] = await arrive(b, "ann", ["room:2"]);
  await using _ann = ann;
  for (const observer of [bob, carol]) {
    assert.deepEqual(
      await nextEvents(observer, 4),
      sortedEvents([
        ...rooms.map((room) => event("joined", "alice", room)),
        event("joined", "ann", "room:2"),
      ]),
    );
  }
  // Alice stays in room:3, with a second tab on a survivor.
  const [second] = await arrive(c, "alice", ["room:3"]);
  await using _second = second;

  b.process.kill("SIGKILL");
  await b.process.exited();
  const lefts = [
    event("left", "alice", "room:1"),
    event("left", "alice", "room:2"),
    event("left", "ann", "room:2"),
  ];
  for (const observer of [bob, carol]) {
    assert.deepEqual(await nextEvents(observer, 3, 6_000), sortedEvents(lefts));
  }
  assert.equal(await redis.cli("SISMEMBER", "boreas:{nodes}:members", "b"), "0");
  assert.equal(
    await redis.cli(
      "EXISTS",
      "boreas:{nodes}:b:members",
      ...rooms.map((room) => `boreas:{${room}}:users:b`),
    ),
    "0",
  );
  // Nothing else came, and nothing more comes: one who comes and goes is all they see next.
  const [dave] = await arrive(a, "dave", ["room:2"]);
  for (const observer of [bob, carol]) {
    assert.deepEqual(await observer.next(), event("joined", "dave", "room:2"));
  }
  await closeClient(dave);
  for (const observer of [bob, carol]) {
    assert.deepEqual(await observer.next("dave's left", 3_000), event("left", "dave", "room:2"));
    await assertNothingReceived(observer);
  }
  await assertNothingReceived(second);
  await alice.closed;
  await ann.closed;
});

/** The next `n` events `observer` receives, in a stable order (see `sortedEvents`). */
async function nextEvents(observer: TestClient, n: number, ms?: number): Promise<string[]> {
  const seen = [];
  for (let i = 0; i < n; i++) seen.push(await observer.next(`event ${i + 1} of ${n}`, ms));
  return sortedEvents(seen);
}

/** `events` in a stable order: the channels' events may come in any. */
function sortedEvents(events: readonly unknown[]): string[] {
  return events.map((one) => JSON.stringify(one)).sort();
}
