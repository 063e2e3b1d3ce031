/**
 * @module
 * The contract of `EventCache` (src/backend/event_cache.ts): a channel's last frame, kept for
 * its ttl, replaced by the next, apart from the other channels', and the same on every node.
 */

import assert from "node:assert/strict";
import { until } from "../cluster_helpers.ts";
import { type ContractOptions, type ContractSuite, runSuite } from "./contract.ts";

/** Long enough to outlive any case. */
const MINUTE_MS = 60_000;

/** The `EventCache` contract. */
export const eventCacheContract: ContractSuite = {
  title: "EventCache",
  cases: {
    "get() answers the channel's last frame, and null for a channel without one": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { cache } = node.backend;
      assert.equal(await cache.get("cache-news"), null);
      await cache.set("cache-news", '{"n": 1}', MINUTE_MS);
      await cache.set("cache-news", '{"n": 2}', MINUTE_MS);
      await cache.set("cache-sport", '{"s": 1}', MINUTE_MS);
      assert.equal(await cache.get("cache-news"), '{"n": 2}');
      assert.equal(await cache.get("cache-sport"), '{"s": 1}');
      assert.equal(await cache.get("cache-other"), null);
    },

    "a frame is gone once its ttl is over, and a later one keeps its own": async (newBackend) => {
      await using node = await newBackend();
      const { cache } = node.backend;
      await cache.set("cache-short", "short", 100);
      await cache.set("cache-long", "long", MINUTE_MS);
      await until(async () => await cache.get("cache-short") === null, "the frame to expire");
      assert.equal(await cache.get("cache-long"), "long");
      // A frame set again is kept for its own ttl, not the one before.
      await cache.set("cache-long", "longer", 100);
      await until(async () => await cache.get("cache-long") === null, "the new frame to expire");
    },

    "a frame set on one node is the last frame on every node": async (newBackend) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      await a.backend.cache.set("cache-news", "from a", MINUTE_MS);
      assert.equal(await b.backend.cache.get("cache-news"), "from a");
      await b.backend.cache.set("cache-news", "from b", MINUTE_MS);
      assert.equal(await a.backend.cache.get("cache-news"), "from b");
    },
  },
};

/** Runs the `EventCache` contract as a step of `t`. */
export function runEventCacheContract(
  t: Deno.TestContext,
  options: ContractOptions,
): Promise<void> {
  return runSuite(t, eventCacheContract, options);
}
