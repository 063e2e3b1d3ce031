/**
 * @module
 * The contract of `UserControl` and `BlockCheck` (src/backend/users.ts): closing a user's
 * connections on every node with 4005 `disconnected` and counting them, blocks that replace
 * each other, end when lifted or when their time is over, and are seen on every node.
 */

import assert from "node:assert/strict";
import { CLOSE } from "../../src/protocol.ts";
import { until } from "../cluster_helpers.ts";
import { connect, type ContractOptions, type ContractSuite, runSuite } from "./contract.ts";

/** Unix seconds now. */
const nowSeconds = () => Date.now() / 1000;

const DISCONNECTED = { code: CLOSE.disconnected.code, reason: CLOSE.disconnected.reason };

/** The `UserControl` contract. */
export const usersContract: ContractSuite = {
  title: "UserControl",
  cases: {
    "disconnect() closes the user's connections with 4005 disconnected, and counts them": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { backend: { users, membership }, hub } = node;
      const ann = [
        connect(hub, { token: "a1", user: "ann", channels: ["news"] }),
        connect(hub, { token: "a2", user: "ann" }),
      ];
      const bob = connect(hub, { token: "b", user: "bob", channels: ["news"] });
      await membership.synced();
      assert.equal(await users.disconnect("ann"), 2);
      assert.deepEqual(ann.map((sink) => sink.closedWith), [DISCONNECTED, DISCONNECTED]);
      assert.equal(hub.userConnections("ann"), 0);
      assert.equal(hub.memberCount("news"), 1);
      assert.equal(bob.closedWith, null);
      assert.equal(await users.disconnect("nobody"), 0);
    },

    "block() keeps the block, replacing any earlier one, and closes the user's connections": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { backend: { users, membership }, hub } = node;
      const ann = connect(hub, { token: "a", user: "ann" });
      await membership.synced();
      assert.equal(await users.block("ann", { expiresAt: null }), 1);
      assert.deepEqual(ann.closedWith, DISCONNECTED);
      assert.deepEqual(await users.blockOf("ann"), { expiresAt: null });
      const later = Math.floor(nowSeconds()) + 3600;
      assert.equal(await users.block("ann", { expiresAt: later }), 0);
      assert.deepEqual(await users.blockOf("ann"), { expiresAt: later });
      assert.equal(await users.blockOf("bob"), null);
    },

    "unblock() ends the block, and says whether there was one": async (newBackend) => {
      await using node = await newBackend();
      const { users } = node.backend;
      await users.block("ann", { expiresAt: null });
      assert.equal(await users.unblock("ann"), true);
      assert.equal(await users.blockOf("ann"), null);
      assert.equal(await users.unblock("ann"), false);
      assert.equal(await users.unblock("never-blocked"), false);
    },

    "a block whose time is over is no block": async (newBackend) => {
      await using node = await newBackend();
      const { users } = node.backend;
      await users.block("past", { expiresAt: Math.floor(nowSeconds()) - 10 });
      assert.equal(await users.blockOf("past"), null);
      assert.equal(await users.unblock("past"), false);
      // Whole seconds, as PUT /users/{user}/block gives them: this one lasts 0.3 to 1.3 s.
      const soon = { expiresAt: Math.ceil(nowSeconds() + 0.3) };
      await users.block("soon", soon);
      assert.deepEqual(await users.blockOf("soon"), soon);
      await until(async () => await users.blockOf("soon") === null, "the block to end", 3_000);
      assert.equal(await users.unblock("soon"), false);
    },

    "disconnect() closes the user's connections on every node, and counts them all": async (
      newBackend,
    ) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      const here = connect(a.hub, { token: "a1", user: "ann" });
      const there = connect(b.hub, { token: "a2", user: "ann", channels: ["news"] });
      const bob = connect(b.hub, { token: "b", user: "bob" });
      await Promise.all([a.backend.membership.synced(), b.backend.membership.synced()]);
      assert.equal(await a.backend.users.disconnect("ann"), 2);
      assert.deepEqual(here.closedWith, DISCONNECTED);
      await there.untilClosed();
      assert.deepEqual(there.closedWith, DISCONNECTED);
      assert.equal(b.hub.userConnections("ann"), 0);
      assert.equal(bob.closedWith, null);
    },

    "a block made on one node closes the user's connections and is seen on the others": async (
      newBackend,
    ) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      const there = connect(b.hub, { token: "a", user: "ann" });
      await b.backend.membership.synced();
      assert.equal(await a.backend.users.block("ann", { expiresAt: null }), 1);
      await there.untilClosed();
      assert.deepEqual(there.closedWith, DISCONNECTED);
      assert.deepEqual(await b.backend.users.blockOf("ann"), { expiresAt: null });
      assert.equal(await b.backend.users.unblock("ann"), true);
      assert.equal(await a.backend.users.blockOf("ann"), null);
    },
  },
};

/** Runs the `UserControl` contract as a step of `t`. */
export function runUsersContract(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  return runSuite(t, usersContract, options);
}
