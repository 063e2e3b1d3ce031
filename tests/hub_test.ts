import assert from "node:assert/strict";
import { Hub, type Subscriber } from "../src/hub.ts";

interface FakeSubscriber extends Subscriber {
  readonly frames: string[];
  readonly closes: Array<[code: number, reason: string]>;
}

/** A subscriber that records what it is sent and how it is closed; `send` returns `accepts`. */
function fakeSubscriber(accepts = true, onSend?: () => void): FakeSubscriber {
  const frames: string[] = [];
  const closes: Array<[number, string]> = [];
  return {
    frames,
    closes,
    send(frame) {
      frames.push(frame);
      onSend?.();
      return accepts;
    },
    close(code, reason) {
      closes.push([code, reason]);
    },
  };
}

/** A hub with `sub` added, authenticated with `token` and joined to `channels`. */
function join(hub: Hub, sub: Subscriber, token: string, channels: string[]): Subscriber {
  hub.add(sub);
  assert.equal(hub.authenticate(sub, token), true);
  assert.equal(hub.updateChannels(sub, channels, []), "ok");
  return sub;
}

Deno.test("Hub.add() registers an anonymous connection once", () => {
  const hub = new Hub();
  const sub = fakeSubscriber();
  hub.add(sub);
  hub.add(sub);
  assert.equal(hub.connectionCount, 1);
  assert.equal(hub.isAuthenticated(sub), false);
  assert.deepEqual(hub.snapshot(), { anonymous: 1, tokens: [], channels: [] });
});

Deno.test("Hub.authenticate() moves a connection from anonymous to its token", () => {
  const hub = new Hub();
  const a = fakeSubscriber();
  const b = fakeSubscriber();
  hub.add(a);
  hub.add(b);
  assert.equal(hub.authenticate(a, "t1"), true);
  assert.equal(hub.isAuthenticated(a), true);
  assert.equal(hub.isAuthenticated(b), false);
  assert.deepEqual(hub.snapshot(), { anonymous: 1, tokens: [["t1", 1]], channels: [] });
  assert.deepEqual(hub.activeTokens(), ["t1"]);
});

Deno.test("Hub.authenticate() returns false for an unknown connection", () => {
  const hub = new Hub();
  const sub = fakeSubscriber();
  assert.equal(hub.authenticate(sub, "t1"), false);
  assert.equal(hub.isAuthenticated(sub), false);
  assert.deepEqual(hub.activeTokens(), []);
  assert.equal(hub.connectionCount, 0);
});

Deno.test("Hub.authenticate() with another token keeps channels and drops the old token", () => {
  const hub = new Hub();
  const sub = join(hub, fakeSubscriber(), "old", ["news", "sport"]);
  assert.equal(hub.authenticate(sub, "new"), true);
  assert.deepEqual(hub.activeTokens(), ["new"]);
  assert.deepEqual(hub.channelTokens("news"), ["new"]);
  assert.equal(hub.memberCount("news"), 1);
  assert.equal(hub.memberCount("sport"), 1);
  assert.deepEqual(hub.snapshot(), {
    anonymous: 0,
    tokens: [["new", 1]],
    channels: [["news", 1], ["sport", 1]],
  });
});

Deno.test("Hub.authenticate() keeps a token that other connections still use", () => {
  const hub = new Hub();
  const a = join(hub, fakeSubscriber(), "shared", []);
  join(hub, fakeSubscriber(), "shared", []);
  hub.authenticate(a, "own");
  assert.deepEqual(hub.snapshot().tokens, [["shared", 1], ["own", 1]]);
});

Deno.test("Hub.updateChannels() joins, then leaves", () => {
  const hub = new Hub();
  const sub = join(hub, fakeSubscriber(), "t", ["a", "b"]);
  assert.equal(hub.updateChannels(sub, ["c", "a"], ["b", "never-joined"]), "ok");
  assert.equal(hub.memberCount("a"), 1);
  assert.equal(hub.memberCount("b"), 0);
  assert.equal(hub.memberCount("c"), 1);
  assert.deepEqual(hub.snapshot().channels, [["a", 1], ["c", 1]]);
});

Deno.test("Hub.updateChannels() leaves a name that is in both join and leave", () => {
  const hub = new Hub();
  const sub = join(hub, fakeSubscriber(), "t", ["kept"]);
  hub.updateChannels(sub, ["both", "kept"], ["both", "kept"]);
  assert.equal(hub.memberCount("both"), 0);
  assert.equal(hub.memberCount("kept"), 0);
  assert.deepEqual(hub.snapshot().channels, []);
  assert.equal(hub.publish("both", "f"), 0);
});

Deno.test("Hub.updateChannels() ignores unauthenticated and unknown connections", () => {
  const hub = new Hub();
  const anonymous = fakeSubscriber();
  hub.add(anonymous);
  assert.equal(hub.updateChannels(anonymous, ["news"], []), "unauthenticated");
  assert.equal(hub.updateChannels(fakeSubscriber(), ["news"], []), "unauthenticated");
  assert.equal(hub.memberCount("news"), 0);
  assert.equal(hub.publish("news", "f"), 0);
  assert.deepEqual(anonymous.frames, []);
});

Deno.test("Hub.remove() drops the connection's channels and token at once", () => {
  const hub = new Hub();
  const a = join(hub, fakeSubscriber(), "ta", ["solo", "shared"]);
  join(hub, fakeSubscriber(), "tb", ["shared"]);
  const anonymous = fakeSubscriber();
  hub.add(anonymous);
  hub.remove(a);
  hub.remove(anonymous);
  assert.equal(hub.connectionCount, 1);
  assert.equal(hub.isAuthenticated(a), false);
  assert.deepEqual(hub.activeTokens(), ["tb"]);
  assert.deepEqual(hub.snapshot(), {
    anonymous: 0,
    tokens: [["tb", 1]],
    channels: [["shared", 1]],
  });
  assert.equal(hub.publish("solo", "f"), 0);
});

Deno.test("Hub.remove() of an unknown connection is a no-op", () => {
  const hub = new Hub();
  join(hub, fakeSubscriber(), "t", ["c"]);
  const before = hub.snapshot();
  let changes = 0;
  hub.onChange(() => changes++);
  hub.remove(fakeSubscriber());
  assert.deepEqual(hub.snapshot(), before);
  assert.equal(changes, 0);
});

Deno.test("Hub.publish() sends to members in subscription order and returns the count", () => {
  const hub = new Hub();
  const order: string[] = [];
  const first = join(hub, fakeSubscriber(true, () => order.push("first")), "t1", ["c"]);
  const second = join(hub, fakeSubscriber(true, () => order.push("second")), "t2", ["c"]);
  const third = join(hub, fakeSubscriber(true, () => order.push("third")), "t3", ["c"]);
  const other = join(hub, fakeSubscriber(), "t4", ["elsewhere"]) as FakeSubscriber;
  assert.equal(hub.publish("c", "frame-1"), 3);
  assert.deepEqual(order, ["first", "second", "third"]);
  for (const sub of [first, second, third] as FakeSubscriber[]) {
    assert.deepEqual(sub.frames, ["frame-1"]);
  }
  assert.deepEqual(other.frames, []);
});

Deno.test("Hub.publish() does not count a subscriber whose send returns false", () => {
  const hub = new Hub();
  const full = join(hub, fakeSubscriber(false), "t1", ["c"]) as FakeSubscriber;
  const ok = join(hub, fakeSubscriber(), "t2", ["c"]) as FakeSubscriber;
  assert.equal(hub.publish("c", "f"), 1);
  assert.deepEqual(full.frames, ["f"]);
  assert.deepEqual(ok.frames, ["f"]);
});

Deno.test("Hub.publish() returns 0 for a channel nobody joined", () => {
  assert.equal(new Hub().publish("nobody", "f"), 0);
});

Deno.test("Hub.memberCount() counts the connections of a channel", () => {
  const hub = new Hub();
  const a = join(hub, fakeSubscriber(), "t", ["c", "d"]);
  join(hub, fakeSubscriber(), "t", ["c"]);
  assert.equal(hub.memberCount("c"), 2);
  assert.equal(hub.memberCount("d"), 1);
  assert.equal(hub.memberCount("e"), 0);
  hub.updateChannels(a, [], ["c"]);
  assert.equal(hub.memberCount("c"), 1);
});

Deno.test("Hub.activeTokens() lists tokens with a connection in order of first use", () => {
  const hub = new Hub();
  const a = join(hub, fakeSubscriber(), "t1", []);
  join(hub, fakeSubscriber(), "t2", []);
  const c = join(hub, fakeSubscriber(), "t1", []);
  assert.deepEqual(hub.activeTokens(), ["t1", "t2"]);
  hub.remove(a);
  assert.deepEqual(hub.activeTokens(), ["t1", "t2"]);
  hub.remove(c);
  assert.deepEqual(hub.activeTokens(), ["t2"]);
});

Deno.test("Hub.channelTokens() lists the distinct tokens of a channel's members", () => {
  const hub = new Hub();
  join(hub, fakeSubscriber(), "t1", ["c"]);
  join(hub, fakeSubscriber(), "t2", ["c"]);
  join(hub, fakeSubscriber(), "t1", ["c"]);
  join(hub, fakeSubscriber(), "t3", ["other"]);
  assert.deepEqual(hub.channelTokens("c").sort(), ["t1", "t2"]);
  assert.deepEqual(hub.channelTokens("missing"), []);
});

Deno.test("Hub.disconnectToken() closes the token's connections and stops delivery", () => {
  const hub = new Hub();
  const a = join(hub, fakeSubscriber(), "bad", ["c"]) as FakeSubscriber;
  const b = join(hub, fakeSubscriber(), "bad", ["c", "d"]) as FakeSubscriber;
  const keep = join(hub, fakeSubscriber(), "good", ["c"]) as FakeSubscriber;
  assert.equal(hub.disconnectToken("bad", 4001, "token revoked"), 2);
  assert.deepEqual(a.closes, [[4001, "token revoked"]]);
  assert.deepEqual(b.closes, [[4001, "token revoked"]]);
  assert.deepEqual(keep.closes, []);
  // Delivery stops before any close handshake could finish.
  assert.equal(hub.publish("c", "after"), 1);
  assert.equal(hub.publish("d", "after"), 0);
  assert.deepEqual(a.frames, []);
  assert.deepEqual(b.frames, []);
  assert.deepEqual(keep.frames, ["after"]);
  assert.deepEqual(hub.snapshot(), {
    anonymous: 0,
    tokens: [["good", 1]],
    channels: [["c", 1]],
  });
  assert.equal(hub.connectionCount, 1);
});

Deno.test("Hub.disconnectToken() forgets a connection before closing it", () => {
  const hub = new Hub();
  const knownAtClose: boolean[] = [];
  const sub: Subscriber = {
    send: () => true,
    close: () => knownAtClose.push(hub.isAuthenticated(sub) || hub.memberCount("c") > 0),
  };
  join(hub, sub, "bad", ["c"]);
  hub.disconnectToken("bad", 4001, "token revoked");
  assert.deepEqual(knownAtClose, [false]);
});

Deno.test("Hub.disconnectToken() returns 0 for a token without connections", () => {
  const hub = new Hub();
  const sub = join(hub, fakeSubscriber(), "t", ["c"]) as FakeSubscriber;
  assert.equal(hub.disconnectToken("unknown", 4001, "x"), 0);
  assert.deepEqual(sub.closes, []);
  assert.equal(hub.connectionCount, 1);
});

Deno.test("Hub.snapshot() lists tokens and channels in order of first appearance", () => {
  const hub = new Hub();
  join(hub, fakeSubscriber(), "zeta", ["z", "a"]);
  join(hub, fakeSubscriber(), "alpha", ["a", "m"]);
  hub.add(fakeSubscriber());
  assert.deepEqual(hub.snapshot(), {
    anonymous: 1,
    tokens: [["zeta", 1], ["alpha", 1]],
    channels: [["z", 1], ["a", 2], ["m", 1]],
  });
});

Deno.test("Hub.onChange() calls the listener after every change until stopped", () => {
  const hub = new Hub();
  const seen: number[] = [];
  const stop = hub.onChange(() => seen.push(hub.connectionCount));
  const a = fakeSubscriber();
  hub.add(a); // 1
  hub.authenticate(a, "t"); // 2
  hub.updateChannels(a, ["c"], []); // 3
  const b = fakeSubscriber();
  hub.add(b); // 4
  hub.remove(b); // 5
  hub.disconnectToken("t", 1000, "bye"); // 6
  assert.deepEqual(seen, [1, 1, 1, 2, 1, 0]);
  stop();
  hub.add(fakeSubscriber());
  assert.equal(seen.length, 6);
});

Deno.test("Hub.updateChannels() changes nothing when the result would pass maxChannels", () => {
  const hub = new Hub();
  const sub = join(hub, fakeSubscriber(), "t", ["a", "b"]);
  assert.equal(hub.updateChannels(sub, ["c", "d"], [], 3), "too-many-channels");
  assert.deepEqual(hub.snapshot().channels, [["a", 1], ["b", 1]]);
  assert.equal(hub.channelsOf(sub), 2);
  // Leaving in the same message makes room; rejoining a joined channel costs nothing.
  assert.equal(hub.updateChannels(sub, ["c", "d", "a"], ["a", "b"], 3), "ok");
  assert.equal(hub.channelsOf(sub), 2);
  assert.equal(hub.updateChannels(sub, ["c", "e"], [], 3), "ok");
  assert.equal(hub.channelsOf(sub), 3);
});

Deno.test("Hub counts anonymous connections and channels", () => {
  const hub = new Hub();
  hub.add(fakeSubscriber());
  join(hub, fakeSubscriber(), "t", ["a", "b"]);
  assert.equal(hub.connectionCount, 2);
  assert.equal(hub.anonymousCount, 1);
  assert.equal(hub.channelCount, 2);
});

Deno.test("Hub.disconnectUser() closes the connections of the user's tokens only, and forgets them", () => {
  const hub = new Hub();
  const [a, b, c, anonymous] = [
    fakeSubscriber(),
    fakeSubscriber(),
    fakeSubscriber(),
    fakeSubscriber(),
  ];
  for (const sub of [a, b, c, anonymous]) hub.add(sub);
  hub.authenticate(a, "t1", "alice");
  hub.authenticate(b, "jwt", "alice");
  hub.authenticate(c, "t2", "bob");
  hub.updateChannels(a, ["room"], []);
  assert.deepEqual(hub.activeUsers(), ["alice", "bob"]);
  assert.equal(hub.userConnections("alice"), 2);

  assert.equal(hub.disconnectUser("alice", 4005, "disconnected"), 2);
  assert.deepEqual([a.closes, b.closes, c.closes], [[[4005, "disconnected"]], [[
    4005,
    "disconnected",
  ]], []]);
  assert.equal(hub.sessionOf(a), undefined);
  assert.equal(hub.memberCount("room"), 0);
  assert.equal(hub.userConnections("alice"), 0);
  assert.deepEqual(hub.activeUsers(), ["bob"]);
  assert.equal(hub.disconnectUser("alice", 4005, "disconnected"), 0);
  assert.equal(hub.disconnectUser("nobody", 4005, "disconnected"), 0);
});

Deno.test("Hub indexes a connection under the user of its last token until it closes", () => {
  const hub = new Hub();
  const sub = fakeSubscriber();
  hub.add(sub);
  hub.authenticate(sub, "t1", "alice");
  hub.authenticate(sub, "t2", "bob");
  assert.deepEqual([hub.userConnections("alice"), hub.userConnections("bob")], [0, 1]);
  hub.authenticate(sub, "t3");
  assert.deepEqual(hub.activeUsers(), []);
  hub.authenticate(sub, "t4", "bob");
  hub.remove(sub);
  assert.deepEqual([hub.activeUsers(), hub.userConnections("bob")], [[], 0]);
});
