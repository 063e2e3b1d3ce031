/** Unit tests of the in-memory channel history, on a clock the test moves. */

import assert from "node:assert/strict";
import { type HistoryOptions, MemoryHistory } from "../src/backend/memory_history.ts";
import { KEPT_MESSAGE_OVERHEAD_BYTES } from "../src/kept_queue.ts";

function history(size = 3, ttlMs = 1000, options: Partial<HistoryOptions> = {}) {
  // Begun a millisecond before the test: epochs of that millisecond may be a restart's.
  let now = 999_999;
  const store = new MemoryHistory({ size, ttlMs, now: () => now, ...options });
  now++;
  return { store, advance: (ms: number) => now += ms };
}

Deno.test("MemoryHistory.append() numbers a channel's messages from 1 under one epoch", () => {
  using store = history().store;
  const first = store.append("news", '"a"');
  const second = store.append("news", '"b"');
  assert.equal(first.offset, 1);
  assert.deepEqual(second, { offset: 2, epoch: first.epoch });
  assert.match(first.epoch, /^[0-9a-f]{16}$/);
  assert.equal(store.append("sport", "1").offset, 1);
  assert.notEqual(store.position("sport").epoch, first.epoch);
});

Deno.test("MemoryHistory.position() of a subscribed new channel is offset 0 with the epoch its first message gets", () => {
  using store = history(3, 1000, { hasSubscribers: () => true }).store;
  const position = store.position("news");
  assert.equal(position.offset, 0);
  assert.deepEqual(store.append("news", "1"), { offset: 1, epoch: position.epoch });
});

Deno.test("MemoryHistory.position() of a channel without subscribers or messages keeps nothing", () => {
  using store = history().store;
  const position = store.position("news");
  assert.equal(position.offset, 0);
  assert.equal(store.channelCount, 0);
  assert.deepEqual(store.after("news", position), [], "nothing was published since");
  store.append("news", "1");
  store.append("news", "2");
  assert.deepEqual(store.after("news", position)?.map((m) => m.offset), [1, 2]);
});

Deno.test("MemoryHistory resumes offset 0 of a freed epoch only while nothing since can be lost", () => {
  let subscribed = true;
  const { store, advance } = history(2, 1000, { hasSubscribers: () => subscribed });
  using _ = store;
  const quiet = store.position("news");
  subscribed = false;
  store.release("news");
  assert.equal(store.channelCount, 0);
  advance(500);
  store.append("news", "1");
  assert.deepEqual(store.after("news", quiet)?.map((m) => m.offset), [1]);
  store.append("news", "2");
  store.append("news", "3");
  assert.equal(store.after("news", quiet), null, "offset 1 was pushed out");
  assert.equal(store.after("news", { offset: 1, epoch: quiet.epoch }), null, "not offset 0");
  assert.equal(
    store.after("news", { offset: 0, epoch: "0123abcd" }),
    null,
    "an epoch without time",
  );
  const later = store.position("other");
  advance(1000); // anything published since `later` could have expired by now
  assert.equal(store.after("other", later), null);
});

Deno.test("MemoryHistory with maxBytes drops the oldest messages of every channel first", () => {
  const payload = "x".repeat(1000 - KEPT_MESSAGE_OVERHEAD_BYTES); // 1,000 bytes a message
  const { store } = history(10, 60_000, { maxBytes: 3_000 });
  using _ = store;
  const a = store.position("a");
  const first = store.append("a", payload);
  store.append("b", payload);
  store.append("a", payload);
  assert.equal(store.keptBytes, 3_000);
  store.append("c", payload);
  assert.equal(store.keptBytes, 3_000);
  assert.deepEqual(store.list("a", 0, 10).messages.map((m) => m.offset), [2]);
  assert.equal(store.after("a", { offset: 0, epoch: first.epoch }), null, "offset 1 was dropped");
  assert.deepEqual(store.after("a", { offset: 1, epoch: first.epoch })?.map((m) => m.offset), [2]);
  assert.equal(store.after("a", a), null, "dropped since that position's epoch began");
  store.append("c", payload);
  store.append("c", payload);
  assert.equal(store.channelCount, 1, "a and b had nothing left, and no subscriber");
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

Deno.test("MemoryHistory.sweep() frees channels whose messages have expired", () => {
  const { store, advance } = history(10, 1000);
  using _ = store;
  store.append("news", "1");
  store.position("quiet");
  assert.equal(store.channelCount, 1, "a position without a subscriber keeps nothing");
  advance(999);
  store.sweep();
  assert.equal(store.channelCount, 1);
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
  const empty = store.list("empty", 0, 100);
  assert.deepEqual(empty, { offset: 0, epoch: empty.epoch, messages: [] });
  assert.equal(store.channelCount, 1);
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

Deno.test("MemoryHistory does not resume offset 0 of an epoch from before it began (a restart)", () => {
  let now = 5_000;
  const clock = { now: () => now };
  const position = (() => {
    using before = new MemoryHistory({ size: 3, ttlMs: 1000, ...clock });
    return before.position("news");
  })();
  using after = new MemoryHistory({ size: 3, ttlMs: 1000, ...clock });
  assert.equal(after.after("news", position), null, "begun in the same millisecond");
  now++;
  assert.deepEqual(after.after("news", after.position("news")), []);
});
