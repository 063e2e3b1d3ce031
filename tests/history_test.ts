/** Unit tests of the in-memory channel history, on a clock the test moves. */

import assert from "node:assert/strict";
import { MemoryHistory } from "../src/history.ts";

function history(size = 3, ttlMs = 1000) {
  let now = 1_000_000;
  const store = new MemoryHistory({ size, ttlMs, now: () => now });
  return { store, advance: (ms: number) => now += ms };
}

Deno.test("MemoryHistory.append() numbers a channel's messages from 1 under one epoch", () => {
  using store = history().store;
  const first = store.append("news", '"a"');
  const second = store.append("news", '"b"');
  assert.equal(first.offset, 1);
  assert.deepEqual(second, { offset: 2, epoch: first.epoch });
  assert.match(first.epoch, /^[0-9a-f]{8}$/);
  assert.equal(store.append("sport", "1").offset, 1);
  assert.notEqual(store.position("sport").epoch, first.epoch);
});

Deno.test("MemoryHistory.position() of a new channel is offset 0 with the epoch its first message gets", () => {
  using store = history().store;
  const position = store.position("news");
  assert.equal(position.offset, 0);
  assert.deepEqual(store.append("news", "1"), { offset: 1, epoch: position.epoch });
});

Deno.test("MemoryHistory.after() replays what follows a kept position, and refuses a gap", () => {
  using store = history(3).store;
  for (const n of [1, 2, 3, 4, 5]) store.append("news", String(n));
  const { epoch } = store.position("news");
  const replay = store.after("news", { offset: 3, epoch });
  assert.deepEqual(replay?.map(({ offset, payload }) => [offset, payload]), [[4, "4"], [5, "5"]]);
  assert.deepEqual(store.after("news", { offset: 5, epoch }), []);
  assert.deepEqual(store.after("news", { offset: 2, epoch })?.map((m) => m.offset), [3, 4, 5]);
  assert.equal(store.after("news", { offset: 1, epoch }), null, "offset 2 was pushed out");
  assert.equal(store.after("news", { offset: 4, epoch: "00000000" }), null, "another epoch");
  assert.equal(store.after("news", { offset: 6, epoch }), null, "ahead of the channel");
});

Deno.test("MemoryHistory expires messages after the ttl and then starts a new epoch", () => {
  const { store, advance } = history(10, 1000);
  using _ = store;
  const { epoch } = store.append("news", "1");
  advance(600);
  store.append("news", "2");
  advance(500); // message 1 is gone, message 2 is kept
  assert.equal(store.after("news", { offset: 0, epoch }), null);
  assert.deepEqual(store.after("news", { offset: 1, epoch })?.map((m) => m.offset), [2]);
  advance(600); // everything is gone: the channel starts again
  const fresh = store.position("news");
  assert.equal(fresh.offset, 0);
  assert.notEqual(fresh.epoch, epoch);
  assert.equal(store.after("news", { offset: 2, epoch }), null);
});

Deno.test("MemoryHistory.sweep() frees channels whose messages and epoch have expired", () => {
  const { store, advance } = history(10, 1000);
  using _ = store;
  store.append("news", "1");
  store.position("quiet");
  assert.equal(store.channelCount, 2);
  advance(999);
  store.sweep();
  assert.equal(store.channelCount, 2);
  advance(1);
  store.sweep();
  assert.equal(store.channelCount, 0);
});

Deno.test("MemoryHistory.list() pages through the kept messages after an offset", () => {
  using store = history(5).store;
  for (const n of [1, 2, 3, 4, 5, 6, 7]) store.append("news", String(n));
  const page = store.list("news", 0, 2);
  assert.equal(page.offset, 7);
  assert.deepEqual(page.messages.map((m) => m.offset), [3, 4]);
  assert.deepEqual(store.list("news", 5, 100).messages.map((m) => m.offset), [6, 7]);
  assert.deepEqual(store.list("news", 7, 100).messages, []);
  assert.deepEqual(store.list("empty", 0, 100), { ...store.position("empty"), messages: [] });
});

Deno.test("MemoryHistory keeps the epoch and offsets of a channel with subscribers", () => {
  let now = 0;
  const subscribed = new Set(["news"]);
  using store = new MemoryHistory({
    size: 10,
    ttlMs: 1000,
    now: () => now,
    hasSubscribers: (channel) => subscribed.has(channel),
  });
  const { epoch } = store.append("news", "1");
  store.append("quiet", "1");
  now += 5_000;
  store.sweep();
  assert.equal(store.channelCount, 1);
  assert.deepEqual(store.append("news", "2"), { offset: 2, epoch });
  assert.equal(store.after("news", { offset: 0, epoch }), null, "message 1 expired");
  subscribed.clear();
  now += 5_000;
  store.sweep();
  assert.equal(store.channelCount, 0);
});
