/**
 * `Positions`, the subscriber's record of where it stands in each channel: pure, no network.
 */

import assert from "node:assert/strict";
import { Positions } from "../client/positions.ts";

const E = "e1";

Deno.test("Positions.since() names the channels with a position, or is undefined", () => {
  const positions = new Positions({ news: { offset: 4, epoch: E } });
  assert.deepEqual(positions.since(["news", "sport"]), { news: { offset: 4, epoch: E } });
  assert.equal(positions.since(["sport"]), undefined);
});

Deno.test("Positions.accept() advances, drops repeats, and takes offset 1 for a new epoch", () => {
  const positions = new Positions({ news: { offset: 4, epoch: E } });
  assert.equal(positions.accept("news", 5), true);
  assert.equal(positions.accept("news", 5), false);
  assert.equal(positions.accept("news", 3), false);
  assert.equal(positions.accept("news", 7), true);
  // The channel started again while connected: kept, under the old epoch, so that a resume
  // after it is refused by the server rather than trusted.
  assert.equal(positions.accept("news", 1), true);
  assert.deepEqual(positions.snapshot(), { news: { offset: 1, epoch: E } });
  assert.equal(positions.accept("other", 1), true);
  assert.deepEqual(positions.snapshot(), { news: { offset: 1, epoch: E } });
});

Deno.test("Positions.applyJoinReply() keeps a recovered position for the replay to advance", () => {
  const positions = new Positions({ news: { offset: 4, epoch: E } });
  const since = positions.since(["news"]);
  const reply = { ref: 1, ok: true, channels: { news: { recovered: true, offset: 9, epoch: E } } };
  assert.deepEqual(positions.applyJoinReply(["news"], since, reply), []);
  assert.deepEqual(positions.snapshot(), { news: { offset: 4, epoch: E } });
  assert.equal(positions.accept("news", 5), true);
});

Deno.test("Positions.applyJoinReply() takes the new epoch of a channel resumed from offset 0", () => {
  const positions = new Positions({ news: { offset: 0, epoch: E } });
  const since = positions.since(["news"]);
  const reply = {
    ref: 1,
    ok: true,
    channels: { news: { recovered: true, offset: 2, epoch: "e2" } },
  };
  assert.deepEqual(positions.applyJoinReply(["news"], since, reply), []);
  assert.deepEqual(positions.snapshot(), { news: { offset: 0, epoch: "e2" } });
  assert.equal(positions.accept("news", 1), true);
  assert.equal(positions.accept("news", 2), true);
  assert.deepEqual(positions.snapshot(), { news: { offset: 2, epoch: "e2" } });
});

Deno.test("Positions.startAt() takes where an opened stream says a channel stands", () => {
  const positions = new Positions({ news: { offset: 0, epoch: E } });
  positions.startAt("news", { offset: 0, epoch: "e2" });
  positions.learn("news", { offset: 5, epoch: "e3" });
  assert.deepEqual(positions.snapshot(), { news: { offset: 0, epoch: "e2" } });
});

Deno.test("Positions.applyJoinReply() reports and takes a position not recovered", () => {
  const positions = new Positions({ news: { offset: 4, epoch: E } });
  const since = positions.since(["news", "sport"]);
  const reply = {
    ref: 1,
    ok: true,
    channels: {
      news: { recovered: false, offset: 9, epoch: "e2" },
      sport: { offset: 3, epoch: "e3" },
    },
  };
  assert.deepEqual(positions.applyJoinReply(["news", "sport"], since, reply), [{
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: 9,
    epoch: "e2",
    since: { offset: 4, epoch: E },
  }]);
  assert.deepEqual(positions.snapshot(), {
    news: { offset: 9, epoch: "e2" },
    sport: { offset: 3, epoch: "e3" },
  });
  assert.equal(positions.accept("news", 9), false);
});

Deno.test("Positions.applyJoinReply() without states forgets, reporting what it asked for", () => {
  const positions = new Positions({ news: { offset: 4, epoch: E } });
  const since = positions.since(["news", "sport"]);
  assert.deepEqual(positions.applyJoinReply(["news", "sport"], since, { ref: 1, ok: true }), [{
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: undefined,
    epoch: undefined,
    since: { offset: 4, epoch: E },
  }]);
  assert.deepEqual(positions.snapshot(), {});
  positions.forget(["news"]);
  assert.deepEqual(positions.applyJoinReply(["news"], undefined, { ref: 2, ok: true }), []);
});
