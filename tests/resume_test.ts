/** Unit tests of the join-resume bookkeeping and of the frames and replies it renders. */

import assert from "node:assert/strict";
import { MemoryHistory } from "../src/backend/memory_history.ts";
import { parseClientMessage, renderFrame, renderJoinReply } from "../src/protocol.ts";
import { HeldFrames, JoinGate, ReplayFloors } from "../src/resume.ts";

Deno.test("renderFrame() adds the offset only when there is one", () => {
  assert.equal(renderFrame("news", '{"n":1}'), '{"message": {"n":1}, "channel": "news"}');
  assert.equal(renderFrame("news", "1", 42), '{"message": 1, "channel": "news", "offset": 42}');
});

Deno.test("renderJoinReply() gives each channel its position, and recovered when asked", () => {
  const states = new Map([
    ["a", { recovered: true, offset: 57, epoch: "E" }],
    ["b", { offset: 0, epoch: "F" }],
  ]);
  assert.equal(
    renderJoinReply(7, states),
    '{"ref": 7, "ok": true, "channels": {"a": {"recovered": true, "offset": 57, "epoch": "E"}, ' +
      '"b": {"offset": 0, "epoch": "F"}}}',
  );
});

Deno.test("parseClientMessage() reads since as positions by joined channel", () => {
  const result = parseClientMessage(
    '{"channels": {"join": ["a"], "leave": [], "since": {"a": {"offset": 3, "epoch": "E"}}}}',
  );
  assert.ok(result.ok && result.message.type === "channels");
  assert.deepEqual([...result.message.since!], [["a", { offset: 3, epoch: "E" }]]);
  const without = parseClientMessage('{"channels": {"join": ["a"], "leave": []}}');
  assert.ok(without.ok && without.message.type === "channels" && !("since" in without.message));
});

Deno.test("MemoryHistory.resume() replays after a kept position and reports the others", async () => {
  using history = new MemoryHistory({ size: 10, ttlMs: 60_000 });
  for (const n of [1, 2, 3]) history.append("a", String(n));
  const { epoch } = history.position("a");
  const resume = await history.resume(["a", "b", "a"], new Map([["a", { offset: 1, epoch }]]));
  assert.deepEqual([...resume.states.keys()], ["a", "b"]);
  assert.deepEqual(resume.states.get("a"), { recovered: true, offset: 3, epoch });
  assert.equal(resume.states.get("b")?.offset, 0);
  assert.deepEqual(
    resume.replay.map(([channel, { offset, payload }]) => [channel, offset, payload]),
    [
      ["a", 2, "2"],
      ["a", 3, "3"],
    ],
  );
});

Deno.test("HeldFrames.release() drops what the reported positions already cover", () => {
  const held = new HeldFrames();
  held.hold("a2", "a", 2);
  held.hold("b1", "b", 1);
  held.hold("a4", "a", 4);
  held.hold("reply", undefined, undefined);
  const states = new Map([["a", { offset: 3, epoch: "E" }]]);
  assert.deepEqual(held.release(states).map(([frame]) => frame), ["b1", "a4", "reply"]);
});

Deno.test("JoinGate sends a second join's replay in full, below the floor the first one left", () => {
  const gate = new JoinGate();
  const sent: Array<number | undefined> = [];
  const send = (_frame: string, _channel?: string, offset?: number) => sent.push(offset);
  const states = new Map([["a", { offset: 2, epoch: "E" }]]);
  gate.hold();
  gate.release({ states, replay: [] }, send);
  assert.ok(gate.intercept("late copy", "a", 2), "a late copy of a covered frame is dropped");
  gate.hold();
  const replay = [1, 2].map((offset) => ["a", { offset, payload: String(offset) }] as const);
  gate.release({ states, replay }, (frame, channel, offset) => {
    if (!gate.intercept(frame, channel, offset)) send(frame, channel, offset);
  });
  assert.deepEqual(sent, [1, 2]);
  assert.ok(gate.intercept("late copy", "a", 1));
  assert.ok(!gate.intercept("live", "a", 3));
});

Deno.test("ReplayFloors forgets floors whose time is over, so joins of quiet channels pile up none", () => {
  let now = 0;
  const floors = new ReplayFloors(() => now);
  const quiet = new Map(
    Array.from({ length: 1000 }, (_, i) => [`q${i}`, { offset: 0, epoch: "E" }]),
  );
  floors.set(quiet);
  floors.set(new Map([["a", { offset: 5, epoch: "E" }]]));
  assert.equal(floors.size, 1001);
  now = 1_000;
  floors.set(new Map([["q1", { offset: 0, epoch: "E" }]]));
  assert.ok(floors.covers("a", 5));
  now = 2_500;
  floors.set(new Map([["b", { offset: 1, epoch: "E" }]]));
  assert.equal(floors.size, 2, "q1, set again at 1 s, and b");
  assert.ok(floors.covers("q1", 0));
  assert.ok(!floors.covers("a", 5));
});
