/**
 * @module
 * The contract of `Members` (src/backend/members.ts): a user joins a channel with their first
 * connection and leaves once their last one has been gone for the leave delay, told to the
 * channel's other subscribers (never the joining connection) and to the events, once across
 * the cluster; the lists, bounded by `maxMembersListed`; another kind's members (a Pusher app's
 * presence channels) kept apart with their infos.
 */

import assert from "node:assert/strict";
import type { MemberFormat, Members } from "../../src/backend/members.ts";
import type { Hub } from "../../src/hub.ts";
import { renderMemberEvent } from "../../src/protocol.ts";
import { until } from "../cluster_helpers.ts";
import {
  connect,
  type ContractNode,
  type ContractOptions,
  type ContractSuite,
  type NodeConfig,
  runSuite,
} from "./contract.ts";

/** Join and leave events in the `room*` channels, left at once. */
const ROOMS: NodeConfig = { joinLeave: ["room*"], leaveDelay: 0 };

/** The node's native members, which these cases always turn on. */
function membersOf(node: ContractNode): Members {
  assert.ok(node.backend.members !== null, "join and leave events are on");
  return node.backend.members;
}

const joined = (channel: string, user: string) => renderMemberEvent(channel, "joined", user);
const left = (channel: string, user: string) => renderMemberEvent(channel, "left", user);

/** Resolves once every change made so far on `node` counts: its membership (the pub/sub
 * subscriptions) and its members. */
async function settled(node: ContractNode): Promise<void> {
  await node.backend.membership.synced();
  // An empty list answers at once: ask for a channel, whichever.
  await membersOf(node).list(["room"]);
}

/** Presence channels (`presence-*`) whose members keep an info, with frames of their own. */
function presenceFormat(hub: Hub): MemberFormat {
  return {
    tracks: (channel) => channel.startsWith("presence-"),
    identify: (subscriber) => {
      const user = hub.sessionOf(subscriber)?.user ?? null;
      return user === null ? null : { user, info: JSON.stringify({ name: user.toUpperCase() }) };
    },
    joined: (channel, { user, info }) => `added ${channel} ${user} ${info}`,
    left: (channel, { user }) => `removed ${channel} ${user}`,
    hasInfo: true,
  };
}

/** The `Members` contract. */
export const membersContract: ContractSuite = {
  title: "Members",
  cases: {
    "tracks() says which channels have join and leave events": async (newBackend) => {
      await using node = await newBackend({ config: ROOMS });
      assert.equal(membersOf(node).tracks("room-1"), true);
      assert.equal(membersOf(node).tracks("news"), false);
    },

    "a user's first connection is announced joined to the others, not to itself; a second to no one":
      async (newBackend) => {
        await using node = await newBackend({ config: ROOMS });
        const { hub } = node;
        const observer = connect(hub, { token: "o", user: "obs", channels: ["room"] });
        await settled(node);
        const ann = connect(hub, { token: "a1", user: "ann", channels: ["room"] });
        await observer.untilFrames(1);
        await settled(node);
        connect(hub, { token: "a2", user: "ann", channels: ["room"] });
        await settled(node);
        connect(hub, { token: "b", user: "bob", channels: ["room"] });
        await observer.untilFrames(2);
        await ann.untilFrames(1);
        assert.deepEqual(observer.frames, [joined("room", "ann"), joined("room", "bob")]);
        assert.deepEqual(ann.frames, [joined("room", "bob")]);
      },

    "a user leaves once their last connection has been gone for the delay, not if back within it":
      async (newBackend) => {
        const delayMs = 300;
        await using node = await newBackend({
          config: { ...ROOMS, leaveDelay: delayMs / 1000 },
        });
        const { hub } = node;
        const members = membersOf(node);
        const observer = connect(hub, { token: "o", user: "obs", channels: ["room"] });
        await settled(node);
        const ann = connect(hub, { token: "a", user: "ann", channels: ["room"] });
        await settled(node);
        const bob = connect(hub, { token: "b", user: "bob", channels: ["room"] });
        await observer.untilFrames(2);
        // Ann goes and comes back within the delay: listed all along, and nobody is told.
        hub.updateChannels(ann, [], ["room"]);
        const pending = (await members.list(["room"])).get("room");
        assert.deepEqual([...pending?.users ?? []].sort(), ["ann", "bob", "obs"]);
        hub.updateChannels(ann, ["room"], []);
        await settled(node);
        const bobLeft = Date.now();
        hub.remove(bob);
        await observer.untilFrames(3);
        assert.ok(Date.now() - bobLeft >= delayMs - 10, "left is sent after the delay");
        hub.remove(ann);
        await observer.untilFrames(4);
        assert.deepEqual(observer.frames, [
          joined("room", "ann"),
          joined("room", "bob"),
          left("room", "bob"),
          left("room", "ann"),
        ]);
        assert.deepEqual((await members.list(["room"])).get("room")?.users, ["obs"]);
      },

    "list() lists at most maxMembersListed members, with their count": async (newBackend) => {
      await using node = await newBackend({ config: { ...ROOMS, maxMembersListed: 2 } });
      for (const user of ["ann", "bob", "cat"]) {
        connect(node.hub, { token: user, user, channels: ["room"] });
      }
      connect(node.hub, { token: "anonymous-user", channels: ["room"] });
      const lists = await membersOf(node).list(["room", "room-empty"]);
      const room = lists.get("room");
      assert.equal(room?.count, 3);
      assert.equal(room.isTruncated, true);
      assert.equal(room.users.length, 2);
      assert.ok(room.users.every((user) => ["ann", "bob", "cat"].includes(user)), "members");
      assert.deepEqual(room.infos, []);
      assert.deepEqual(lists.get("room-empty"), {
        users: [],
        infos: [],
        count: 0,
        isTruncated: false,
      });
    },

    "addMembers() follows another kind's channels apart, with infos, and tells each event once":
      async (newBackend) => {
        await using node = await newBackend({ config: ROOMS });
        const { hub } = node;
        const events: string[] = [];
        const presence = node.backend.addMembers(":presence", {
          format: presenceFormat(hub),
          leaveDelayMs: 0,
          maxMembersListed: 10,
          events: {
            joined: (channel, user) => events.push(`joined ${channel} ${user}`),
            left: (channel, user) => events.push(`left ${channel} ${user}`),
          },
        });
        assert.equal(presence.tracks("presence-1"), true);
        assert.equal(presence.tracks("room"), false);
        assert.equal(membersOf(node).tracks("presence-1"), false);
        const observer = connect(hub, { token: "o", user: "obs", channels: ["presence-1"] });
        await node.backend.membership.synced();
        await presence.list(["presence-1"]);
        const ann = connect(hub, { token: "a", user: "ann", channels: ["presence-1", "room"] });
        await observer.untilFrames(1);
        const roster = (await presence.list(["presence-1"])).get("presence-1");
        const listed = roster?.users.map((user, i) => [user, roster.infos[i]]);
        assert.deepEqual(listed?.sort(), [["ann", '{"name":"ANN"}'], ["obs", '{"name":"OBS"}']]);
        assert.deepEqual((await membersOf(node).list(["room"])).get("room")?.users, ["ann"]);
        hub.remove(ann);
        await observer.untilFrames(2);
        assert.deepEqual(observer.frames, [
          'added presence-1 ann {"name":"ANN"}',
          "removed presence-1 ann",
        ]);
        await until(() => events.length === 3, "the joined and left events", 2_000);
        assert.deepEqual(events, [
          "joined presence-1 obs",
          "joined presence-1 ann",
          "left presence-1 ann",
        ]);
      },

    "a user with connections on two nodes joins once, and leaves once both are gone": async (
      newBackend,
    ) => {
      await using a = await newBackend({ config: ROOMS });
      await using b = await newBackend({ peerOf: a });
      const observerA = connect(a.hub, { token: "oa", user: "obs-a", channels: ["room"] });
      await settled(a);
      const observerB = connect(b.hub, { token: "ob", user: "obs-b", channels: ["room"] });
      await settled(b);
      await observerA.untilFrames(1);
      const annA = connect(a.hub, { token: "a1", user: "ann", channels: ["room"] });
      await Promise.all([observerA.untilFrames(2), observerB.untilFrames(1)]);
      await settled(a);
      const annB = connect(b.hub, { token: "a2", user: "ann", channels: ["room"] });
      await settled(b);
      const roster = (await membersOf(b).list(["room"])).get("room");
      assert.equal(roster?.count, 3);
      assert.deepEqual([...roster.users].sort(), ["ann", "obs-a", "obs-b"]);
      a.hub.remove(annA);
      await settled(a);
      b.hub.remove(annB);
      await Promise.all([observerA.untilFrames(3), observerB.untilFrames(2)]);
      assert.deepEqual(observerA.frames, [
        joined("room", "obs-b"),
        joined("room", "ann"),
        left("room", "ann"),
      ]);
      assert.deepEqual(observerB.frames, [joined("room", "ann"), left("room", "ann")]);
    },
  },
};

/** Runs the `Members` contract as a step of `t`. */
export function runMembersContract(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  return runSuite(t, membersContract, options);
}
