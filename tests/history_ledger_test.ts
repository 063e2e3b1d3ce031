/** Unit tests of the bookkeeping behind `--history-max-bytes`: the queue of kept messages and a
 * node's ledger of what it kept in Redis, on a clock the test moves. */

import assert from "node:assert/strict";
import { KEPT_MESSAGE_OVERHEAD_BYTES, KeptQueue, type Queued } from "../src/kept_queue.ts";
import { HistoryLedger } from "../src/backend/history_ledger.ts";

/** A payload whose kept message costs 1,000 bytes. */
const PAYLOAD = "x".repeat(1000 - KEPT_MESSAGE_OVERHEAD_BYTES);

Deno.test("KeptQueue counts what it holds and hands out the oldest it still counts", () => {
  const queue = new KeptQueue<Queued & { n: number }>();
  const items = Array.from({ length: 5000 }, (_, n) => ({ n, cost: 10, isDropped: false }));
  for (const item of items) queue.push(item);
  assert.equal(queue.bytes, 50_000);
  for (const item of items.slice(0, 4000)) if (item.n % 2 === 0) queue.drop(item);
  queue.drop(items[0]!); // twice: counted once
  assert.equal(queue.bytes, 30_000);
  assert.equal(queue.shift()?.n, 1);
  assert.equal(queue.peek()?.n, 3);
  for (let n = 3; n < 4000; n += 2) assert.equal(queue.shift()?.n, n);
  assert.equal(queue.shift()?.n, 4000);
  assert.equal(queue.bytes, 9_990);
});

Deno.test("HistoryLedger trims the oldest messages of every channel past maxBytes", () => {
  const ledger = new HistoryLedger({ size: 10, ttlMs: 60_000, maxBytes: 3_000, now: () => 0 });
  assert.deepEqual(ledger.kept("a", { offset: 1, epoch: "A" }, PAYLOAD), new Map());
  ledger.kept("b", { offset: 1, epoch: "B" }, PAYLOAD);
  ledger.kept("a", { offset: 2, epoch: "A" }, PAYLOAD);
  assert.deepEqual(
    ledger.kept("c", { offset: 1, epoch: "C" }, PAYLOAD),
    new Map([["a", { offset: 1, epoch: "A" }]]),
  );
  assert.deepEqual(
    ledger.kept("c", { offset: 2, epoch: "C" }, PAYLOAD.repeat(2)),
    new Map([["b", { offset: 1, epoch: "B" }], ["a", { offset: 2, epoch: "A" }]]),
  );
  assert.equal(ledger.bytes, 1_000 + 2 * PAYLOAD.length + KEPT_MESSAGE_OVERHEAD_BYTES);
});

Deno.test("HistoryLedger stops counting what --history-size, a new epoch or the ttl removed", () => {
  let now = 0;
  const ledger = new HistoryLedger({ size: 2, ttlMs: 1000, maxBytes: 10_000, now: () => now });
  for (let offset = 1; offset <= 5; offset++) ledger.kept("a", { offset, epoch: "A" }, PAYLOAD);
  assert.equal(ledger.bytes, 2_000, "the stream keeps 2");
  ledger.kept("a", { offset: 1, epoch: "A2" }, PAYLOAD);
  assert.equal(ledger.bytes, 1_000, "a new epoch starts empty");
  now = 500;
  ledger.kept("b", { offset: 1, epoch: "B" }, PAYLOAD);
  now = 1000;
  ledger.kept("c", { offset: 1, epoch: "C" }, PAYLOAD);
  assert.equal(ledger.bytes, 2_000, "a's message expired");
});
