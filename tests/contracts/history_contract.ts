/**
 * @module
 * The contract of `History` (src/backend/history.ts), fed through the broker as the server
 * feeds it: positions, resuming from a kept position, `recovered: false` past what is kept (the
 * size, the ttl, the max bytes, another epoch, a position ahead), reading pages, and the epoch
 * a channel with subscribers keeps for its first message.
 */

import assert from "node:assert/strict";
import type { History, Position } from "../../src/backend/history.ts";
import { KEPT_MESSAGE_OVERHEAD_BYTES } from "../../src/kept_queue.ts";
import { until } from "../cluster_helpers.ts";
import {
  connect,
  type ContractNode,
  type ContractOptions,
  type ContractSuite,
  type NodeConfig,
  runSuite,
} from "./contract.ts";

/** Three messages kept per channel, for a minute. */
const SMALL_HISTORY: NodeConfig = { historySize: 3, historyTtl: 60 };

/** The node's history, which these cases always turn on. */
function historyOf(node: ContractNode): History {
  assert.ok(node.backend.history !== null, "history is on");
  return node.backend.history;
}

/** Publishes `payloads` (JSON texts) to `channel` one after another; returns the position of
 * the last. */
async function publishAll(
  node: ContractNode,
  channel: string,
  payloads: readonly string[],
  user?: string,
): Promise<Position> {
  let position: Position | undefined;
  for (const payload of payloads) {
    const options = user === undefined ? {} : { user };
    position = (await node.backend.broker.publish(channel, payload, options)).position;
  }
  assert.ok(position !== undefined, "a publish with history on answers a position");
  return position;
}

/** The `History` contract. */
export const historyContract: ContractSuite = {
  title: "History",
  cases: {
    "resume() answers each joined channel's position once, and replays nothing unasked": async (
      newBackend,
    ) => {
      await using node = await newBackend({ config: SMALL_HISTORY });
      const { epoch } = await publishAll(node, "news", ["1", "2"]);
      const { states, replay } = await historyOf(node).resume(["news", "quiet", "news"]);
      assert.deepEqual([...states.keys()], ["news", "quiet"]);
      assert.deepEqual(states.get("news"), { offset: 2, epoch });
      assert.equal(states.get("quiet")?.offset, 0);
      assert.equal(typeof states.get("quiet")?.epoch, "string");
      assert.equal("recovered" in states.get("quiet")!, false);
      assert.deepEqual(replay, []);
    },

    "resume() from a kept position replays every later message, oldest first, with its user":
      async (newBackend) => {
        await using node = await newBackend({ config: SMALL_HISTORY });
        await publishAll(node, "news", ['"a"']);
        await publishAll(node, "news", ['"b"'], "ann");
        const { epoch } = await publishAll(node, "news", ['{"c": 3}']);
        const history = historyOf(node);
        const since = new Map([["news", { offset: 1, epoch }]]);
        const resumed = await history.resume(["news", "sport"], since);
        assert.deepEqual(resumed.states.get("news"), { recovered: true, offset: 3, epoch });
        assert.equal("recovered" in resumed.states.get("sport")!, false);
        assert.deepEqual(resumed.replay, [
          ["news", { offset: 2, payload: '"b"', user: "ann" }],
          ["news", { offset: 3, payload: '{"c": 3}' }],
        ]);
        const current = await history.resume(["news"], new Map([["news", { offset: 3, epoch }]]));
        assert.deepEqual(current.states.get("news"), { recovered: true, offset: 3, epoch });
        assert.deepEqual(current.replay, []);
      },

    "resume() answers recovered: false past the kept size, from another epoch or from ahead":
      async (newBackend) => {
        await using node = await newBackend({ config: SMALL_HISTORY });
        const { epoch } = await publishAll(node, "news", ["1", "2", "3", "4", "5"]);
        const history = historyOf(node);
        const resumeFrom = (offset: number, from = epoch) =>
          history.resume(["news"], new Map([["news", { offset, epoch: from }]]));
        // Offsets 3 to 5 are kept: from 2 nothing is missing, from 1 offset 2 is.
        const fromTwo = await resumeFrom(2);
        assert.equal(fromTwo.states.get("news")?.recovered, true);
        assert.deepEqual(fromTwo.replay.map(([, { offset }]) => offset), [3, 4, 5]);
        for (
          const [offset, from] of [[1, epoch], [5, "00000000001abcde"], [9, epoch]] as const
        ) {
          const { states, replay } = await resumeFrom(offset, from);
          assert.deepEqual(states.get("news"), { recovered: false, offset: 5, epoch }, from);
          assert.deepEqual(replay, []);
        }
      },

    "read() pages the kept messages above `since`, up to `limit`, with the position": async (
      newBackend,
    ) => {
      await using node = await newBackend({ config: SMALL_HISTORY });
      await publishAll(node, "news", ["1", "2", "3"]);
      const { epoch } = await publishAll(node, "news", ["4", "5"], "ann");
      const history = historyOf(node);
      assert.deepEqual(await history.read("news", 0, 10), {
        offset: 5,
        epoch,
        messages: [
          { offset: 3, payload: "3" },
          { offset: 4, payload: "4", user: "ann" },
          { offset: 5, payload: "5", user: "ann" },
        ],
      });
      assert.deepEqual((await history.read("news", 3, 1)).messages, [
        { offset: 4, payload: "4", user: "ann" },
      ]);
      assert.deepEqual((await history.read("news", 5, 10)).messages, []);
      const never = await history.read("never-published", 0, 10);
      assert.equal(never.offset, 0);
      assert.deepEqual(never.messages, []);
    },

    "a channel with subscribers keeps the epoch its join was told for its first message": async (
      newBackend,
    ) => {
      await using node = await newBackend({ config: SMALL_HISTORY });
      connect(node.hub, { token: "t", channels: ["news"] });
      await node.backend.membership.synced();
      const joined = (await historyOf(node).resume(["news"])).states.get("news");
      assert.equal(joined?.offset, 0);
      const first = await publishAll(node, "news", ["1"]);
      assert.deepEqual(first, { offset: 1, epoch: joined.epoch });
    },

    "a message past the ttl is neither read nor replayed: recovered false": async (
      newBackend,
    ) => {
      await using node = await newBackend({ config: { historySize: 10, historyTtl: 1 } });
      const { epoch } = await publishAll(node, "news", ["1", "2"]);
      const history = historyOf(node);
      await until(
        async () => (await history.read("news", 0, 10)).messages.length === 0,
        "the messages to expire",
        3_000,
      );
      const { states, replay } = await history.resume(
        ["news"],
        new Map([["news", { offset: 1, epoch }]]),
      );
      assert.equal(states.get("news")?.recovered, false);
      assert.deepEqual(replay, []);
    },

    "past the max bytes the oldest message goes first: recovered false from before it": async (
      newBackend,
    ) => {
      const payload = JSON.stringify("x".repeat(100));
      const cost = payload.length + KEPT_MESSAGE_OVERHEAD_BYTES;
      await using node = await newBackend({
        config: { ...SMALL_HISTORY, historyMaxBytes: cost + cost / 2 },
      });
      const first = await publishAll(node, "first", [payload]);
      await publishAll(node, "second", [payload]);
      const history = historyOf(node);
      assert.deepEqual((await history.read("first", 0, 10)).messages, []);
      assert.deepEqual((await history.read("second", 0, 10)).messages, [{ offset: 1, payload }]);
      const since = new Map([["first", { offset: 0, epoch: first.epoch }]]);
      const { states, replay } = await history.resume(["first"], since);
      assert.equal(states.get("first")?.recovered, false);
      assert.deepEqual(replay, []);
    },
  },
};

/** Runs the `History` contract as a step of `t`. */
export function runHistoryContract(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  return runSuite(t, historyContract, options);
}
