/**
 * Who is in a channel, through the client, over a WebSocket and over SSE, on a real server with
 * `--join-leave`: `members()` from the join (a reply's list, an SSE `event: members`), kept up
 * to date by `joined` and `left`, which `events()` yields in order with the messages while the
 * default iterator leaves them out, and replaced by the list a reconnect brings; and the
 * bookkeeping of `client/members.ts` on its own.
 */

import assert from "node:assert/strict";
import type {
  BoreasSubscriber,
  BoreasSubscriberOptions,
  ChannelMembers,
  MembersEvent,
  SubscriberEvent,
} from "../client/mod.ts";
import { memberEventOf, MemberLists, membersEventOf } from "../client/members.ts";
import type { Config } from "../src/config.ts";
import { apiOf, dropConnections, nextEvent, nextMessage, subscriberOf } from "./client_helpers.ts";
import { Gate, type Hold } from "./client_scenarios.ts";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";

const ROOM = "room:1";
const ROOMS: Partial<Config> = { joinLeave: ["room:*"], leaveDelay: 0.05 };
const TRANSPORTS = ["websocket", "sse"] as const;
type Transport = typeof TRANSPORTS[number];

type Events = AsyncIterator<SubscriberEvent, undefined>;

/** `list` with its users sorted: their order is not part of the protocol. */
function sorted(list: ChannelMembers | SubscriberEvent | undefined) {
  assert.ok(list !== undefined && "users" in list, `expected a member list, got ${list}`);
  return { ...list, users: [...list.users].sort() };
}

/** The next `members` event of `channel`; fails on anything else but another channel's list
 * (over SSE, every `join()` and `leave()` lists every channel of the new stream again). */
async function nextList(events: Events, channel: string): Promise<MembersEvent> {
  for (;;) {
    const event = await nextEvent(events, `the members of ${channel}`);
    assert.equal(event.type, "members", `expected the members of ${channel}, got ${event.type}`);
    if (event.channel === channel) return event as MembersEvent;
  }
}

/** A subscriber of `server` as `user`, over `transport`, open, with its `events()`. */
async function member(
  server: TestServer,
  user: string | undefined,
  options: Partial<BoreasSubscriberOptions> = {},
): Promise<{ subscriber: BoreasSubscriber; events: Events; token: string }> {
  const token = await apiOf(server).createToken(user === undefined ? {} : { user });
  const subscriber = subscriberOf(server, token, { channels: [ROOM], ...options });
  const events = subscriber.events()[Symbol.asyncIterator]();
  await withTimeout(subscriber.untilOpen(), `${user ?? "a reader"} to open`);
  return { subscriber, events, token };
}

/** Subscriber options for `transport` whose next connection, once `hold()` is called, is held
 * before it authenticates (a WebSocket's token, a stream's request) until released. */
function gated(transport: Transport): { options: Partial<BoreasSubscriberOptions>; hold(): Hold } {
  const gate = new Gate();
  if (transport === "sse") {
    const gatedFetch: typeof fetch = async (input, init) => {
      await gate.take();
      return await fetch(input, init);
    };
    return { options: { transport, fetch: gatedFetch }, hold: () => gate.hold() };
  }
  class GatedWebSocket extends WebSocket {
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      const isToken = typeof data === "string" && data.includes('"access_token"');
      const release = isToken ? gate.take() : undefined;
      if (release === undefined) return super.send(data);
      void release.then(() => {
        if (this.readyState === WebSocket.OPEN) super.send(data);
      });
    }
  }
  return { options: { transport, WebSocket: GatedWebSocket }, hold: () => gate.hold() };
}

for (const transport of TRANSPORTS) {
  Deno.test(`${transport}: members() lists who is there; events() yields joined and left in order with the messages`, async () => {
    await using server = await startTestServer(ROOMS);
    const api = apiOf(server);
    const bob = await member(server, "bob");
    await using _bob = bob.subscriber;
    // No user: a reader that causes no event, and reads the default iterator.
    const reader = await member(server, undefined);
    await using _reader = reader.subscriber;
    const alice = await member(server, "alice", { transport, channels: [ROOM, "news"] });
    await using _alice = alice.subscriber;
    const { events, subscriber } = alice;
    const room = { channel: ROOM, users: ["alice", "bob"], isTruncated: false };
    const list = sorted(await nextEvent(events, "the room's members"));
    assert.deepEqual(list, { type: "members", ...room });
    assert.deepEqual(sorted(subscriber.members(ROOM)), room);
    assert.equal(subscriber.members("news"), undefined, "news has no join and leave events");

    await api.broadcast(ROOM, "before carol");
    const carol = await member(server, "carol");
    await using _carol = carol.subscriber;
    assert.deepEqual(await nextEvent(events, "the broadcast"), {
      type: "message",
      channel: ROOM,
      message: "before carol",
    });
    assert.deepEqual(await nextEvent(events, "carol's joined"), {
      type: "joined",
      channel: ROOM,
      user: "carol",
    });
    assert.deepEqual(sorted(subscriber.members(ROOM)).users, ["alice", "bob", "carol"]);
    await carol.subscriber.close();
    assert.deepEqual(await nextEvent(events, "carol's left"), {
      type: "left",
      channel: ROOM,
      user: "carol",
    });
    assert.deepEqual(sorted(subscriber.members(ROOM)).users, ["alice", "bob"]);
    await api.broadcast(ROOM, "after carol");
    assert.deepEqual(await nextEvent(events, "the next broadcast"), {
      type: "message",
      channel: ROOM,
      message: "after carol",
    });
    // The reader received alice's and carol's comings and goings between these: left out.
    assert.deepEqual(await nextMessage(reader.subscriber), {
      channel: ROOM,
      message: "before carol",
    });
    assert.deepEqual(await nextMessage(reader.subscriber), {
      channel: ROOM,
      message: "after carol",
    });

    await subscriber.join("room:2");
    assert.deepEqual(await nextList(events, "room:2"), {
      type: "members",
      channel: "room:2",
      users: ["alice"],
      isTruncated: false,
    });
    assert.deepEqual(subscriber.members("room:2")?.users, ["alice"]);
    await subscriber.leave("room:2");
    assert.equal(subscriber.members("room:2"), undefined, "a channel left has no list");
    assert.deepEqual(sorted(subscriber.members(ROOM)).users, ["alice", "bob"]);
  });

  Deno.test(`${transport}: a reconnect's list replaces the one from before the drop`, async () => {
    await using server = await startTestServer(ROOMS);
    const bob = await member(server, "bob");
    await using _bob = bob.subscriber;
    const gate = gated(transport);
    const alice = await member(server, "alice", gate.options);
    await using _alice = alice.subscriber;
    assert.deepEqual(sorted(await nextEvent(alice.events, "the room's members")).users, [
      "alice",
      "bob",
    ]);

    const hold = gate.hold();
    dropConnections(server, alice.token);
    await withTimeout(hold.held, "alice's reconnect to be held");
    assert.equal((await nextList(bob.events, ROOM)).users.length, 1, "bob's own list: bob");
    assert.deepEqual(await nextEvent(bob.events, "alice's joined"), {
      type: "joined",
      channel: ROOM,
      user: "alice",
    });
    assert.deepEqual(await nextEvent(bob.events, "alice's left"), {
      type: "left",
      channel: ROOM,
      user: "alice",
    });
    // While alice is away, carol comes and bob goes: alice is told of neither.
    const carol = await member(server, "carol");
    await using _carol = carol.subscriber;
    assert.deepEqual(sorted(await nextList(carol.events, ROOM)).users, ["bob", "carol"]);
    await bob.subscriber.close();
    assert.deepEqual(await nextEvent(carol.events, "bob's left"), {
      type: "left",
      channel: ROOM,
      user: "bob",
    });
    assert.equal(alice.subscriber.state, "reconnecting");
    assert.deepEqual(sorted(alice.subscriber.members(ROOM)).users, ["alice", "bob"], "stale");

    hold.release();
    await withTimeout(alice.subscriber.untilOpen(), "alice to reopen");
    const room = { channel: ROOM, users: ["alice", "carol"], isTruncated: false };
    assert.deepEqual(sorted(await nextList(alice.events, ROOM)), { type: "members", ...room });
    assert.deepEqual(sorted(alice.subscriber.members(ROOM)), room);
    assert.deepEqual(await nextEvent(carol.events, "alice's joined"), {
      type: "joined",
      channel: ROOM,
      user: "alice",
    });
  });

  Deno.test(`${transport}: a cut list says so, and grows with those who join`, async () => {
    await using server = await startTestServer({ ...ROOMS, maxMembersListed: 1 });
    const bob = await member(server, "bob");
    await using _bob = bob.subscriber;
    const alice = await member(server, "alice", { transport });
    await using _alice = alice.subscriber;
    const list = await nextList(alice.events, ROOM);
    assert.equal(list.isTruncated, true);
    assert.equal(list.users.length, 1);
    const carol = await member(server, "carol");
    await using _carol = carol.subscriber;
    assert.deepEqual(await nextEvent(alice.events, "carol's joined"), {
      type: "joined",
      channel: ROOM,
      user: "carol",
    });
    const now = alice.subscriber.members(ROOM);
    assert.equal(now?.isTruncated, true);
    assert.deepEqual(now?.users, [...list.users, "carol"]);
  });
}

Deno.test("MemberLists takes a join of one channel's list from the top, several from their entries", () => {
  const lists = new MemberLists();
  assert.deepEqual(lists.applyJoinReply(["a"], { ok: true, members: ["x", 7, "y"] }), [
    { type: "members", channel: "a", users: ["x", "y"], isTruncated: false },
  ]);
  const reply = {
    ok: true,
    channels: {
      a: { offset: 1, epoch: "E", members: ["x"], members_truncated: true },
      b: { offset: 0, epoch: "F" },
    },
    // A top-level list beside several channels cannot be told apart: ignored.
    members: ["nobody"],
  };
  assert.deepEqual(lists.applyJoinReply(["a", "b", "a"], reply), [
    { type: "members", channel: "a", users: ["x"], isTruncated: true },
  ]);
  assert.deepEqual(lists.get("a"), { channel: "a", users: ["x"], isTruncated: true });
  assert.equal(lists.get("b"), undefined);
  // A reply without a list for a joined channel drops the one it had.
  assert.deepEqual(lists.applyJoinReply(["a"], { ok: true }), []);
  assert.equal(lists.get("a"), undefined);
});

Deno.test("MemberLists applies joined and left as set operations, to channels with a list", () => {
  const lists = new MemberLists();
  lists.apply({ type: "members", channel: "a", users: ["x"], isTruncated: false });
  lists.apply({ type: "joined", channel: "a", user: "x" });
  lists.apply({ type: "joined", channel: "a", user: "y" });
  lists.apply({ type: "left", channel: "a", user: "z" });
  lists.apply({ type: "joined", channel: "b", user: "y" });
  assert.deepEqual(lists.get("a")?.users, ["x", "y"]);
  assert.equal(lists.get("b"), undefined, "a joined makes no list");
  lists.apply({ type: "left", channel: "a", user: "x" });
  assert.deepEqual(lists.get("a")?.users, ["y"]);
  lists.forget(["a"]);
  assert.equal(lists.get("a"), undefined);
});

Deno.test("memberEventOf() and membersEventOf() read the frames, and nothing else", () => {
  assert.deepEqual(memberEventOf({ channel: "a", joined: { user: "x" } }), {
    type: "joined",
    channel: "a",
    user: "x",
  });
  assert.deepEqual(memberEventOf({ channel: "a", left: { user: "x" } }), {
    type: "left",
    channel: "a",
    user: "x",
  });
  for (const frame of [null, [], { channel: "a", joined: "x" }, { joined: { user: "x" } }]) {
    assert.equal(memberEventOf(frame), undefined, JSON.stringify(frame));
  }
  assert.deepEqual(membersEventOf({ channel: "a", members: [], members_truncated: true }), {
    type: "members",
    channel: "a",
    users: [],
    isTruncated: true,
  });
  assert.equal(membersEventOf({ members: ["x"] }), undefined);
  assert.equal(membersEventOf({ channel: "a", members: "x" }), undefined);
});
