/**
 * Join and leave events on real servers, standalone and across two cluster nodes: members are
 * users, not connections; `left` waits for `--leave-delay`; the joiner is told who is there and
 * not that it joined. Where a test shows that nothing was sent, a later user who comes and goes
 * proves it: anything sent before would have come first.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { assertNothingReceived, closeClient } from "./integration_helpers.ts";
import { startNode, until, untilHealthy } from "./cluster_helpers.ts";
import { bothModes, mint, type Setup } from "./modes.ts";
import { startRedis } from "./redis_server.ts";
import { renderJoinReply, renderMemberEvent, renderMembers } from "../src/protocol.ts";

const ROOM = "room:1";
const ROOMS: Partial<Config> = { joinLeave: ["room:*", "lobby"], leaveDelay: 0.2 };

/** Waits long enough for a `left` to come after a short delay, on a busy machine. */
const LEFT_MS = 5_000;

/** A client of `server` authenticated as `user` (no user when null), with its join reply. */
async function arrive(
  { minter }: Setup,
  server: TestServer,
  user: string | null,
  channels: readonly string[] = [ROOM],
): Promise<{ client: TestClient; reply: Record<string, unknown> }> {
  const { token } = await mint(minter, user === null ? {} : { user });
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  const reply = await client.request({ channels: { join: channels, leave: [] } }, "join");
  return { client, reply: reply as Record<string, unknown> };
}

/** `user` joined or left `channel`, as subscribers receive it. */
function event(change: "joined" | "left", user: string, channel = ROOM) {
  return { channel, [change]: { user } };
}

/** The reply's members, sorted: their order is not part of the protocol. */
function membersOf(reply: Record<string, unknown>): string[] {
  return [...(reply.members as string[])].sort();
}

/** Closes `client` and waits until `server` has let it go. */
async function leave(client: TestClient, server: TestServer): Promise<void> {
  const before = server.hub.connectionCount;
  await closeClient(client);
  await server.untilConnections(before - 1);
}

/** A user who comes and goes on `setup.server`; `observers` must see exactly that next, so
 * nothing was sent to them before it. */
async function comesAndGoes(setup: Setup, observers: readonly TestClient[]): Promise<void> {
  const { client } = await arrive(setup, setup.server, "sentinel");
  for (const observer of observers) {
    assert.deepEqual(await observer.next("the sentinel's joined"), event("joined", "sentinel"));
  }
  await leave(client, setup.server);
  for (const observer of observers) {
    assert.deepEqual(
      await observer.next("the sentinel's left", LEFT_MS),
      event("left", "sentinel"),
    );
  }
  for (const observer of observers) await assertNothingReceived(observer);
}

bothModes("the joiner is told who is there; the others, that it joined", async (setup) => {
  const { client: bob, reply: bobs } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  assert.deepEqual(bobs, { ref: "join", ok: true, members: ["bob"] });
  const { client: alice, reply } = await arrive(setup, setup.server, "alice");
  await using _alice = alice;
  assert.deepEqual(membersOf(reply), ["alice", "bob"]);
  assert.deepEqual(Object.keys(reply), ["ref", "ok", "members"]);
  assert.deepEqual(await bob.next("alice's joined"), event("joined", "alice"));
  await assertNothingReceived(alice);
  await comesAndGoes(setup, [bob, alice]);
}, ROOMS);

bothModes("a second tab sends nothing, nor does closing one of two", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  const { client: first } = await arrive(setup, setup.server, "alice");
  await using _first = first;
  assert.deepEqual(await bob.next("alice's joined"), event("joined", "alice"));
  const { client: second, reply } = await arrive(setup, setup.minter, "alice");
  await using _second = second;
  assert.deepEqual(membersOf(reply), ["alice", "bob"]);
  await leave(first, setup.server);
  await comesAndGoes(setup, [bob]);
  await leave(second, setup.minter);
  assert.deepEqual(await bob.next("alice's left", LEFT_MS), event("left", "alice"));
  await comesAndGoes(setup, [bob]);
}, ROOMS);

bothModes("a reload within --leave-delay sends nothing", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  const { client: before } = await arrive(setup, setup.server, "alice");
  assert.deepEqual(await bob.next("alice's joined"), event("joined", "alice"));
  await leave(before, setup.server);
  // Back, through another node in a cluster, within the delay.
  const { client: after, reply } = await arrive(setup, setup.minter, "alice");
  await using _after = after;
  assert.deepEqual(membersOf(reply), ["alice", "bob"]);
  await comesAndGoes(setup, [bob]);
}, { ...ROOMS, leaveDelay: 1.5 });

bothModes("left comes once, after the delay, to everyone still there", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  const { client: carol } = await arrive(setup, setup.server, "carol");
  await using _carol = carol;
  assert.deepEqual(await bob.next(), event("joined", "carol"));
  const { client: alice } = await arrive(setup, setup.server, "alice");
  for (const observer of [bob, carol]) {
    assert.deepEqual(await observer.next(), event("joined", "alice"));
  }
  await leave(alice, setup.server);
  for (const observer of [bob, carol]) {
    assert.deepEqual(await observer.next("alice's left", LEFT_MS), event("left", "alice"));
  }
  await comesAndGoes(setup, [bob, carol]);
  const { client: dave, reply } = await arrive(setup, setup.server, "dave");
  await using _dave = dave;
  assert.deepEqual(membersOf(reply), ["bob", "carol", "dave"]);
}, ROOMS);

bothModes("a join lists at most --max-members-listed members, and says so", async (setup) => {
  const users = ["ann", "ben", "cat"];
  const clients: TestClient[] = [];
  try {
    for (const user of users) clients.push((await arrive(setup, setup.minter, user)).client);
    const { client, reply } = await arrive(setup, setup.server, "dan");
    clients.push(client);
    const listed = reply.members as string[];
    assert.equal(listed.length, 2);
    assert.ok(listed.every((user) => [...users, "dan"].includes(user)), String(listed));
    assert.equal(reply.members_truncated, true);
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
}, { ...ROOMS, maxMembersListed: 2 });

bothModes("a token without a user is told who is there, and sends nothing", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  const { client: nobody, reply } = await arrive(setup, setup.server, null);
  assert.deepEqual(reply, { ref: "join", ok: true, members: ["bob"] });
  await leave(nobody, setup.server);
  await comesAndGoes(setup, [bob]);
}, ROOMS);

bothModes("channels not matching --join-leave send nothing and list nobody", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob", [ROOM, "news"]);
  await using _bob = bob;
  const { client: alice, reply } = await arrive(setup, setup.server, "alice", ["news"]);
  assert.deepEqual(reply, { ref: "join", ok: true });
  await leave(alice, setup.server);
  await comesAndGoes(setup, [bob]);
}, ROOMS);

bothModes("a join of several rooms lists each one's members in channels", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob", ["lobby"]);
  await using _bob = bob;
  const { client: alice, reply } = await arrive(setup, setup.server, "alice", [
    "lobby",
    ROOM,
    "news",
  ]);
  await using _alice = alice;
  const channels = reply.channels as Record<string, { members: string[] }>;
  assert.deepEqual(Object.keys(reply), ["ref", "ok", "channels"]);
  assert.deepEqual(Object.keys(channels).sort(), ["lobby", ROOM]);
  assert.deepEqual(channels.lobby!.members.sort(), ["alice", "bob"]);
  assert.deepEqual(channels[ROOM], { members: ["alice"] });
  assert.deepEqual(await bob.next(), event("joined", "alice", "lobby"));
}, ROOMS);

bothModes("with history on, the reply has positions and members", async (setup) => {
  const { client: alice, reply } = await arrive(setup, setup.server, "alice", [ROOM]);
  await using _alice = alice;
  assert.deepEqual(Object.keys(reply), ["ref", "ok", "channels", "members"]);
  assert.deepEqual(reply.members, ["alice"]);
  const channels = reply.channels as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(channels[ROOM]!), ["offset", "epoch"]);
  // Joined beside another channel, a room's members go in its entry: at the top level, a
  // client could not tell whose list it was.
  const { client: bob, reply: bobs } = await arrive(setup, setup.server, "bob", ["news", ROOM]);
  await using _bob = bob;
  assert.deepEqual(Object.keys(bobs), ["ref", "ok", "channels"]);
  const entries = bobs.channels as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(entries.news!), ["offset", "epoch"]);
  assert.deepEqual(Object.keys(entries[ROOM]!), ["offset", "epoch", "members"]);
  assert.deepEqual([...entries[ROOM]!.members as string[]].sort(), ["alice", "bob"]);
}, { ...ROOMS, historySize: 10 });

bothModes(
  "a join of a room beside another channel lists the room's members in channels",
  async (setup) => {
    const { client: alice, reply } = await arrive(setup, setup.server, "alice", [ROOM, "news"]);
    await using _alice = alice;
    assert.deepEqual(reply, {
      ref: "join",
      ok: true,
      channels: { [ROOM]: { members: ["alice"] } },
    });
  },
  ROOMS,
);

bothModes(
  "authenticating again as someone else leaves as one and joins as the other",
  async (setup) => {
    const { client: bob } = await arrive(setup, setup.minter, "bob");
    await using _bob = bob;
    const { client: someone } = await arrive(setup, setup.server, null);
    await using _someone = someone;
    const { token: alice } = await mint(setup.minter, { user: "alice" });
    assert.deepEqual(await someone.request({ access_token: alice }, "again"), {
      ref: "again",
      ok: true,
    });
    assert.deepEqual(await bob.next(), event("joined", "alice"));
    const { token: carol } = await mint(setup.minter, { user: "carol" });
    assert.deepEqual(await someone.request({ access_token: carol }, "carol"), {
      ref: "carol",
      ok: true,
    });
    const seen = [await bob.next(), await bob.next("alice's left", LEFT_MS)];
    assert.deepEqual(seen, [event("joined", "carol"), event("left", "alice")]);
    // Now carol, it is told that alice left, and not that carol joined.
    assert.deepEqual(await someone.next("alice's left", LEFT_MS), event("left", "alice"));
    await comesAndGoes(setup, [bob, someone]);
  },
  ROOMS,
);

/** The blocks of an SSE stream, comments left out, as `event` and parsed `data`. */
class SseBlocks implements AsyncDisposable {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  next(what: string, ms?: number): Promise<{ event?: string; data: unknown }> {
    return withTimeout(this.#next(), what, ms);
  }

  async #next(): Promise<{ event?: string; data: unknown }> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end === -1) {
        const { value, done } = await this.#reader.read();
        if (done) throw new Error("the stream ended");
        this.#buffer += value;
        continue;
      }
      const lines = this.#buffer.slice(0, end).split("\n").filter((line) => !line.startsWith(":"));
      this.#buffer = this.#buffer.slice(end + 2);
      if (lines.length === 0) continue;
      const field = (name: string) =>
        lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      const event = field("event");
      const data = JSON.parse(field("data")!);
      return event === undefined ? { data } : { event, data };
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

bothModes("an SSE stream is told who is there, then who comes and goes", async (setup) => {
  const { client: bob } = await arrive(setup, setup.minter, "bob");
  await using _bob = bob;
  const { token } = await mint(setup.minter, { user: "carol" });
  const url = setup.server.wsUrl.replace(/^ws/, "http");
  const response = await fetch(`${url}events?channel=${ROOM}&channel=news`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(response.status, 200);
  await using stream = new SseBlocks(response);
  const members = await stream.next("the members");
  assert.equal(members.event, "members");
  const { channel, members: users } = members.data as { channel: string; members: string[] };
  assert.deepEqual([channel, [...users].sort()], [ROOM, ["bob", "carol"]]);
  assert.deepEqual(await bob.next("carol's joined"), event("joined", "carol"));
  const { client: alice } = await arrive(setup, setup.minter, "alice");
  assert.deepEqual(await stream.next("alice's joined"), { data: event("joined", "alice") });
  await leave(alice, setup.minter);
  assert.deepEqual(await stream.next("alice's left", LEFT_MS), { data: event("left", "alice") });
  await stream[Symbol.asyncDispose]();
  const seen = [await bob.next(), await bob.next(), await bob.next("carol's left", LEFT_MS)];
  assert.deepEqual(seen, [
    event("joined", "alice"),
    event("left", "alice"),
    event("left", "carol"),
  ]);
}, ROOMS);

Deno.test("renderJoinReply() lists the members of a join of one channel at the top, else per channel", () => {
  const one = new Map([["room:1", { users: ["alice", "bob"], isTruncated: false }]]);
  assert.equal(
    renderJoinReply(3, null, { members: one, isOneChannel: true }),
    '{"ref": 3, "ok": true, "members": ["alice", "bob"]}',
  );
  const cut = new Map([["room:1", { users: ["a"], isTruncated: true }]]);
  const states = new Map([["room:1", { offset: 4, epoch: "E" }], ["news", {
    offset: 0,
    epoch: "F",
  }]]);
  assert.equal(
    renderJoinReply("r", new Map([...states].slice(0, 1)), { members: cut, isOneChannel: true }),
    '{"ref": "r", "ok": true, "channels": {"room:1": {"offset": 4, "epoch": "E"}}, "members": ["a"], "members_truncated": true}',
  );
  assert.equal(
    renderJoinReply("r", states, { members: cut }),
    '{"ref": "r", "ok": true, "channels": {"room:1": {"offset": 4, "epoch": "E", "members": ["a"], "members_truncated": true}, "news": {"offset": 0, "epoch": "F"}}}',
  );
  assert.equal(
    renderJoinReply(2, null, { members: one }),
    '{"ref": 2, "ok": true, "channels": {"room:1": {"members": ["alice", "bob"]}}}',
  );
  const two = new Map([...one, ["lobby", { users: [], isTruncated: false }]]);
  assert.equal(
    renderJoinReply(1, null, { members: two }),
    '{"ref": 1, "ok": true, "channels": {"room:1": {"members": ["alice", "bob"]}, "lobby": {"members": []}}}',
  );
  assert.equal(
    renderJoinReply(1, states, { members: two }),
    '{"ref": 1, "ok": true, "channels": {"room:1": {"offset": 4, "epoch": "E", "members": ["alice", "bob"]}, "news": {"offset": 0, "epoch": "F"}, "lobby": {"members": []}}}',
  );
  assert.equal(
    renderMembers("room:1", cut.get("room:1")!),
    '{"channel": "room:1", "members": ["a"], "members_truncated": true}',
  );
  assert.equal(
    renderMemberEvent("room:1", "left", 'a "quoted" user'),
    '{"channel": "room:1", "left": {"user": "a \\"quoted\\" user"}}',
  );
});

Deno.test("cluster: after Redis restarts empty, the nodes write their members again", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", ROOMS);
  await using b = await startNode(redis.url, "b", ROOMS);
  const setup = { minter: a, server: b };
  const { client: bob } = await arrive(setup, a, "bob");
  await using _bob = bob;
  const { client: alice } = await arrive(setup, b, "alice");
  await using _alice = alice;
  await redis.kill();
  await redis.start();
  await until(
    async () => await redis.cli("HLEN", `boreas:{${ROOM}}:members`) === "2",
    "both nodes to write their members again",
  );
  await Promise.all([untilHealthy(a), untilHealthy(b)]);
  const { client: carol, reply } = await arrive(setup, a, "carol");
  await using _carol = carol;
  assert.deepEqual(membersOf(reply), ["alice", "bob", "carol"]);
});
