/**
 * CatchUp (src/backend/catch_up.ts) with plain-object dependencies: what a node delivers of
 * the offsets Redis brings, and what it does when a channel's stream went backwards.
 */

import assert from "node:assert/strict";
import { type Arrival, CatchUp, type CatchUpDeps, type Missed } from "../src/backend/catch_up.ts";
import type { Position } from "../src/backend/history.ts";
import { renderFrame } from "../src/protocol.ts";
import { withTimeout } from "./helpers.ts";

const E1 = "0000000000aaaaa";
const E2 = "0000000001bbbbb";

function arrival(offset: number, message: unknown, epoch = E1): Arrival {
  return { offset, epoch, frame: renderFrame("news", JSON.stringify(message), offset) };
}

/** A CatchUp of one channel with a member, recording what it does. */
function harness(answers: { missed?: Missed | null; continues?: Position | null } = {}) {
  const delivered: Array<[number, string]> = [];
  const renewed: Position[] = [];
  const gaveUp = Promise.withResolvers<void>();
  let onDelivered = () => {};
  const deps: CatchUpDeps = {
    deliver: (_, frame, offset) => {
      delivered.push([offset, JSON.parse(frame).message]);
      onDelivered();
    },
    render: (channel, message) => renderFrame(channel, message.payload, message.offset),
    missed: () => Promise.resolve(answers.missed ?? null),
    renew: (_, after) => {
      renewed.push(after);
      return Promise.resolve();
    },
    continues: () => Promise.resolve(answers.continues ?? null),
    giveUp: () => gaveUp.resolve(),
    members: () => 1,
  };
  return {
    catchUp: new CatchUp(deps),
    delivered,
    renewed,
    untilGaveUp: () => withTimeout(gaveUp.promise, "the channel to be given up"),
    /** Resolves once `count` frames were delivered in all. */
    untilDelivered(count: number): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      onDelivered = () => delivered.length >= count && resolve();
      onDelivered();
      return withTimeout(promise, `${count} frames delivered`);
    },
  };
}

Deno.test("CatchUp.receive() delivers each offset once, in order, and drops one brought twice", () => {
  const { catchUp, delivered } = harness();
  catchUp.follow("news", { epoch: E1, offset: 2 });
  for (const [offset, message] of [[2, "b"], [3, "c"], [3, "c"], [4, "d"]] as const) {
    catchUp.receive("news", arrival(offset, message));
  }
  assert.deepEqual(delivered, [[3, "c"], [4, "d"]]);
  assert.deepEqual(catchUp.seen("news"), [{ epoch: E1, offset: 4 }]);
});

Deno.test("CatchUp.receive() delivers no offset heard before: a new epoch after the highest delivered, then the connections resume", async () => {
  const { catchUp, delivered, renewed, untilGaveUp } = harness();
  for (const [offset, message] of [[1, "a"], [2, "b"], [3, "c"]] as const) {
    catchUp.receive("news", arrival(offset, message));
  }
  catchUp.receive("news", arrival(2, "another b"));
  catchUp.receive("news", arrival(3, "another c"));
  await untilGaveUp();
  assert.deepEqual(delivered, [[1, "a"], [2, "b"], [3, "c"]]);
  assert.deepEqual(renewed, [{ epoch: E1, offset: 3 }]);
  assert.deepEqual(catchUp.seen("news"), []);
});

Deno.test("CatchUp.receive() goes on into an epoch begun at or before where it stands", async () => {
  for (const before of [3, 2]) {
    const { catchUp, delivered, untilDelivered } = harness({
      continues: { epoch: E1, offset: before },
    });
    catchUp.follow("news", { epoch: E1, offset: 3 });
    catchUp.receive("news", arrival(1, "new", E2));
    catchUp.receive("news", arrival(2, "newer", E2));
    await untilDelivered(2);
    assert.deepEqual(delivered, [[1, "new"], [2, "newer"]]);
    assert.deepEqual(catchUp.seen("news"), [{ epoch: E2, offset: 2 }]);
  }
});

Deno.test("CatchUp.receive() makes the connections resume for an epoch begun past where it stands, or for another reason", async () => {
  for (const continues of [{ epoch: E1, offset: 4 }, null]) {
    const { catchUp, delivered, untilGaveUp } = harness({ continues });
    catchUp.follow("news", { epoch: E1, offset: 3 });
    catchUp.receive("news", arrival(1, "new", E2));
    await untilGaveUp();
    assert.deepEqual(delivered, []);
  }
});

Deno.test("CatchUp fills a gap, unless the message kept at its position is not the one it delivered", async () => {
  // Short frames are compared as they are, long ones by their digest.
  for (const filler of ["", "x".repeat(10_000)]) {
    const b = `b${filler}`;
    const kept = { offset: 2, payload: JSON.stringify(b) };
    const replay = [["news", { offset: 3, payload: '"c"' }]] as const;
    const same = harness({ missed: { at: kept, replay } });
    same.catchUp.receive("news", arrival(1, "a"));
    same.catchUp.receive("news", arrival(2, b));
    same.catchUp.interrupt();
    same.catchUp.resume();
    await same.untilDelivered(3);
    assert.deepEqual(same.delivered, [[1, "a"], [2, b], [3, "c"]]);

    const another = { offset: 2, payload: JSON.stringify(`B${filler}`) };
    const other = harness({ missed: { at: another, replay } });
    other.catchUp.receive("news", arrival(1, "a"));
    other.catchUp.receive("news", arrival(2, b));
    other.catchUp.interrupt();
    other.catchUp.resume();
    await other.untilGaveUp();
    assert.deepEqual(other.delivered, [[1, "a"], [2, b]]);
    assert.deepEqual(other.renewed, [{ epoch: E1, offset: 2 }]);
  }
});

Deno.test("CatchUp.seen() adds the last position this node published, for a bounded number of channels", () => {
  const { catchUp } = harness();
  catchUp.published("news", { epoch: E1, offset: 7 });
  assert.deepEqual(catchUp.seen("news"), [{ epoch: E1, offset: 7 }]);
  for (let i = 0; i < 10_000; i++) catchUp.published(`other${i}`, { epoch: E1, offset: 1 });
  assert.deepEqual(catchUp.seen("news"), []);
  assert.deepEqual(catchUp.seen("other9999"), [{ epoch: E1, offset: 1 }]);
});
