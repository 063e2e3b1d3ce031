import assert from "node:assert/strict";
import { RateLimit } from "../src/rate_limit.ts";

Deno.test("RateLimit.take() allows a burst of its rate, then refills at that rate", () => {
  let now = 1_000;
  const limit = new RateLimit(10, () => now);
  const burst = Array.from({ length: 12 }, () => limit.take());
  assert.equal(burst.filter((ok) => ok).length, 10);
  assert.equal(limit.take(), false);
  now += 100; // a tenth of a second: one more
  assert.equal(limit.take(), true);
  assert.equal(limit.take(), false);
  now += 60_000; // a long pause refills no more than the burst
  assert.equal(Array.from({ length: 12 }, () => limit.take()).filter((ok) => ok).length, 10);
});

Deno.test("RateLimit.take() is not emptied by a clock that goes back", () => {
  let now = 3_600_000;
  const limit = new RateLimit(10, () => now);
  assert.equal(limit.take(), true);
  now -= 3_600_000; // an hour back
  assert.equal(Array.from({ length: 9 }, () => limit.take()).every((ok) => ok), true);
  now += 100;
  assert.equal(limit.take(), true);
});
