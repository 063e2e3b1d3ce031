/**
 * @module
 * The contract of `Membership` (src/backend/membership.ts): the hub's joins, leaves and
 * removals counted once synced, per channel, per token and per user, the census of the live
 * nodes, and the other nodes' connections counted as theirs until they leave.
 */

import assert from "node:assert/strict";
import type { HubSnapshot } from "../../src/hub.ts";
import { connect, type ContractOptions, type ContractSuite, runSuite } from "./contract.ts";

/** `snapshot` with its tokens and channels in name order, for comparing sums of nodes. */
function sorted({ anonymous, tokens, channels }: HubSnapshot): HubSnapshot {
  const byName = (a: readonly [string, number], b: readonly [string, number]) =>
    a[0].localeCompare(b[0]);
  return { anonymous, tokens: [...tokens].sort(byName), channels: [...channels].sort(byName) };
}

/** The `Membership` contract. */
export const membershipContract: ContractSuite = {
  title: "Membership",
  cases: {
    "membership counts the hub's joins, leaves and removals once synced": async (newBackend) => {
      await using node = await newBackend();
      const { backend: { membership }, hub } = node;
      const first = connect(hub, { token: "t1", channels: ["news", "sport"] });
      const second = connect(hub);
      await membership.synced();
      assert.equal(await membership.recipients("news"), 1);
      assert.deepEqual(await membership.snapshot(), {
        anonymous: 1,
        tokens: [["t1", 1]],
        channels: [["news", 1], ["sport", 1]],
      });
      assert.deepEqual(await membership.channelTokens("sport"), ["t1"]);
      hub.updateChannels(first, [], ["sport"]);
      hub.remove(second);
      await membership.synced();
      assert.equal(await membership.recipients("sport"), 0);
      assert.deepEqual(await membership.snapshot(), {
        anonymous: 0,
        tokens: [["t1", 1]],
        channels: [["news", 1]],
      });
    },

    "presence() counts a channel's connections and its distinct users": async (newBackend) => {
      await using node = await newBackend();
      const { backend: { membership }, hub } = node;
      connect(hub, { token: "ann-1", user: "ann", channels: ["news"] });
      connect(hub, { token: "ann-2", user: "ann", channels: ["news", "sport"] });
      connect(hub, { token: "bob-1", user: "bob", channels: ["news"] });
      connect(hub, { token: "nobody", channels: ["news"] });
      await membership.synced();
      const news = await membership.presence("news");
      assert.equal(news.connections, 4);
      assert.deepEqual([...news.users].sort(), ["ann", "bob"]);
      assert.deepEqual(await membership.presence("sport"), { connections: 1, users: ["ann"] });
      assert.deepEqual(await membership.presence("empty"), { connections: 0, users: [] });
      assert.deepEqual((await membership.channelTokens("news")).sort(), [
        "ann-1",
        "ann-2",
        "bob-1",
        "nobody",
      ]);
    },

    "userConnections() counts the connections whose token names the user": async (newBackend) => {
      await using node = await newBackend();
      const { backend: { membership }, hub } = node;
      const joined = connect(hub, { token: "ann-1", user: "ann", channels: ["news"] });
      connect(hub, { token: "ann-2", user: "ann" });
      connect(hub, { token: "bob-1", user: "bob" });
      await membership.synced();
      assert.equal(await membership.userConnections("ann"), 2);
      assert.equal(await membership.userConnections("nobody"), 0);
      hub.remove(joined);
      await membership.synced();
      assert.equal(await membership.userConnections("ann"), 1);
    },

    "census() names this node first, with its connections, channels and counters": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { backend, hub, metrics } = node;
      connect(hub, { token: "t1", channels: ["news", "sport"] });
      connect(hub, { token: "t2", channels: ["news"] });
      connect(hub);
      metrics.messagesPublished = 3;
      await backend.membership.synced();
      const census = await backend.membership.census();
      assert.equal(census.nodes.length, 1);
      const [own] = census.nodes;
      assert.equal(own?.id, backend.nodeId);
      assert.deepEqual(own?.connections, { anonymous: 1, authenticated: 2 });
      assert.equal(own?.channels, 2);
      assert.equal(own?.messages_published, 3);
      assert.deepEqual(census.hub, hub.snapshot());
      assert.equal(census.counters.messages_published, 3);
    },

    "each node counts the other nodes' connections, until they leave": async (newBackend) => {
      await using a = await newBackend();
      const b = await newBackend({ peerOf: a });
      try {
        connect(a.hub, { token: "ta", user: "ann", channels: ["news"] });
        connect(b.hub, { token: "tb", user: "bob", channels: ["news", "sport"] });
        connect(b.hub);
        await Promise.all([a.backend.membership.synced(), b.backend.membership.synced()]);
        const { membership } = a.backend;
        assert.equal(await membership.recipients("news"), 2);
        assert.deepEqual(sorted(await membership.snapshot()), {
          anonymous: 1,
          tokens: [["ta", 1], ["tb", 1]],
          channels: [["news", 2], ["sport", 1]],
        });
        assert.deepEqual((await membership.channelTokens("news")).sort(), ["ta", "tb"]);
        const presence = await membership.presence("news");
        assert.deepEqual([presence.connections, [...presence.users].sort()], [2, ["ann", "bob"]]);
        assert.equal(await membership.userConnections("bob"), 1);
        const census = await membership.census();
        assert.deepEqual(census.nodes.map(({ id }) => id), [a.backend.nodeId, b.backend.nodeId]);
        // The other node's counters are as of its last report: only the connections are
        // read at the instant of the census.
        assert.deepEqual(sorted(census.hub), sorted(await membership.snapshot()));
      } finally {
        await b[Symbol.asyncDispose]();
      }
      const { membership } = a.backend;
      assert.equal(await membership.recipients("news"), 1);
      assert.equal(await membership.userConnections("bob"), 0);
      assert.deepEqual((await membership.census()).nodes.map(({ id }) => id), [a.backend.nodeId]);
    },
  },
};

/** Runs the `Membership` contract as a step of `t`. */
export function runMembershipContract(
  t: Deno.TestContext,
  options: ContractOptions,
): Promise<void> {
  return runSuite(t, membershipContract, options);
}
