/**
 * @module
 * The contract of `Occupancy` (src/backend/occupancy.ts): `channel.occupied` when a channel
 * gains its first subscriber, `channel.vacated` once its last one has been gone for the vacate
 * delay, nothing when one is back within it, and each told once across the cluster.
 */

import assert from "node:assert/strict";
import type { EventBody, EventSink } from "../../src/webhooks/events.ts";
import { until } from "../cluster_helpers.ts";
import {
  connect,
  type ContractOptions,
  type ContractSuite,
  type NodeConfig,
  runSuite,
} from "./contract.ts";

/** How long a channel must stay empty before it is vacated, in milliseconds. */
const DELAY_MS = 300;

const CONFIG: NodeConfig = { webhookVacateDelay: DELAY_MS / 1000 };

/** An event sink that keeps what it is told, as `<type> <channel>`. */
class EventLog implements EventSink {
  readonly events: string[] = [];

  emit(body: EventBody): void {
    if (body.type === "channel.occupied" || body.type === "channel.vacated") {
      this.events.push(`${body.type} ${body.channel}`);
    }
  }

  /** Resolves once `count` events were told to any of `logs`. */
  static until(logs: readonly EventLog[], count: number): Promise<void> {
    const told = () => logs.reduce((sum, log) => sum + log.events.length, 0);
    return until(() => told() >= count, `${count} occupancy events`, 3_000);
  }
}

/** The `Occupancy` contract. */
export const occupancyContract: ContractSuite = {
  title: "Occupancy",
  cases: {
    "a channel's first subscriber makes it occupied, once": async (newBackend) => {
      const log = new EventLog();
      await using node = await newBackend({ config: CONFIG, events: log });
      connect(node.hub, { token: "t", channels: ["news"] });
      await EventLog.until([log], 1);
      connect(node.hub, { token: "t", channels: ["news"] });
      connect(node.hub, { token: "t", channels: ["fence"] });
      await EventLog.until([log], 2);
      assert.deepEqual(log.events, ["channel.occupied news", "channel.occupied fence"]);
    },

    "the last subscriber gone for the delay vacates the channel; back within it, nothing": async (
      newBackend,
    ) => {
      const log = new EventLog();
      await using node = await newBackend({ config: CONFIG, events: log });
      const { hub, backend: { membership } } = node;
      const reader = connect(hub, { token: "t", channels: ["news"] });
      await EventLog.until([log], 1);
      hub.updateChannels(reader, [], ["news"]);
      await membership.synced();
      hub.updateChannels(reader, ["news"], []);
      // A channel vacated after the same delay, from later: any vacate of news due from the
      // leave above would be told first.
      const fence = connect(hub, { token: "t", channels: ["fence"] });
      await EventLog.until([log], 2);
      hub.remove(fence);
      await EventLog.until([log], 3);
      const left = Date.now();
      hub.remove(reader);
      await EventLog.until([log], 4);
      assert.ok(Date.now() - left >= DELAY_MS - 10, "vacated after the delay");
      assert.deepEqual(log.events, [
        "channel.occupied news",
        "channel.occupied fence",
        "channel.vacated fence",
        "channel.vacated news",
      ]);
    },

    "occupied and vacated are told once across the cluster": async (newBackend) => {
      const [logA, logB] = [new EventLog(), new EventLog()];
      await using a = await newBackend({ config: CONFIG, events: logA });
      await using b = await newBackend({ peerOf: a, events: logB });
      const here = connect(a.hub, { token: "t", channels: ["news"] });
      await EventLog.until([logA, logB], 1);
      const there = connect(b.hub, { token: "t", channels: ["news"] });
      await b.backend.membership.synced();
      a.hub.remove(here);
      await a.backend.membership.synced();
      b.hub.remove(there);
      await EventLog.until([logA, logB], 2);
      assert.deepEqual([...logA.events, ...logB.events].sort(), [
        "channel.occupied news",
        "channel.vacated news",
      ]);
    },
  },
};

/** Runs the `Occupancy` contract as a step of `t`. */
export function runOccupancyContract(
  t: Deno.TestContext,
  options: ContractOptions,
): Promise<void> {
  return runSuite(t, occupancyContract, options);
}
