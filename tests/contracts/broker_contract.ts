/**
 * @module
 * The contract of `Broker` (src/backend/broker.ts): a publish reaches the channel's
 * subscribers on every node and no one else, once per channel for a publish to many, leaves
 * out `except` and the subscriber named `exceptName`, names the publishing user, and with
 * history on answers the message's position. The recipients of a publish that leaves someone
 * out are not compared: standalone counts those that took it, a cluster those subscribed.
 */

import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import type { Hub } from "../../src/hub.ts";
import { connect, type ContractOptions, type ContractSuite, runSuite } from "./contract.ts";

/** The `Broker` contract. */
export const brokerContract: ContractSuite = {
  title: "Broker",
  cases: {
    "the broker delivers the frame to the channel's subscribers only": async (newBackend) => {
      await using node = await newBackend();
      const { backend, hub } = node;
      const member = connect(hub, { token: "t", channels: ["news"] });
      const other = connect(hub, { token: "t", channels: ["sport"] });
      await backend.membership.synced();
      assert.deepEqual(await backend.broker.publish("news", "1"), { recipients: 1 });
      await member.untilFrames(1);
      assert.deepEqual(member.frames, ['{"message": 1, "channel": "news"}']);
      assert.deepEqual(await backend.broker.publish("nobody-here", "1"), { recipients: 0 });
      // The second broadcast arrives and nothing else did.
      assert.deepEqual(await backend.broker.publish("news", "1"), { recipients: 1 });
      await member.untilFrames(2);
      assert.equal(member.frames.length, 2);
      assert.equal(other.frames.length, 0);
    },

    "the broker publishes to many channels: once each, one frame per channel, in order": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      const { backend, hub } = node;
      const both = connect(hub, { token: "t", channels: ["news", "sport"] });
      const other = connect(hub, { token: "t", channels: ["sport"] });
      await backend.membership.synced();
      const results = await backend.broker.publishMany(["sport", "empty", "news", "sport"], "1");
      assert.deepEqual([...results], [
        ["sport", { recipients: 2 }],
        ["empty", { recipients: 0 }],
        ["news", { recipients: 1 }],
      ]);
      await both.untilFrames(2);
      await other.untilFrames(1);
      assert.deepEqual(both.frames, [
        '{"message": 1, "channel": "sport"}',
        '{"message": 1, "channel": "news"}',
      ]);
      // Nothing more arrives: the next frame is the next publish's.
      await backend.broker.publish("sport", "2");
      await other.untilFrames(2);
      assert.deepEqual(other.frames, [
        '{"message": 1, "channel": "sport"}',
        '{"message": 2, "channel": "sport"}',
      ]);
    },

    "publish() names the publishing user in the frame": async (newBackend) => {
      await using node = await newBackend();
      const member = connect(node.hub, { token: "t", channels: ["news"] });
      await node.backend.membership.synced();
      await node.backend.broker.publish("news", '{"n": 1}', { user: "ann" });
      await node.backend.broker.publish("news", "2", { user: null });
      await member.untilFrames(2);
      assert.deepEqual(member.parsed(), [
        { message: { n: 1 }, channel: "news", user: "ann" },
        { message: 2, channel: "news" },
      ]);
    },

    "publish() leaves out `except`, and only that subscriber": async (newBackend) => {
      await using node = await newBackend();
      const { backend, hub } = node;
      const sender = connect(hub, { token: "t", channels: ["news"] });
      const reader = connect(hub, { token: "t", channels: ["news"] });
      await backend.membership.synced();
      await backend.broker.publish("news", "1", { except: sender });
      await backend.broker.publish("news", "2");
      await reader.untilFrames(2);
      await sender.untilFrames(1);
      assert.deepEqual(sender.frames, ['{"message": 2, "channel": "news"}']);
    },

    "publish() leaves out the subscriber named `exceptName` until unname()": async (
      newBackend,
    ) => {
      await using node = await newBackend();
      await checkExceptName(node.backend, node.hub);
    },

    "with history on, publish() leaves out the subscriber named `exceptName`": async (
      newBackend,
    ) => {
      await using node = await newBackend({ config: { historySize: 10 } });
      await checkExceptName(node.backend, node.hub);
    },

    "with history on, publish() answers each message's position, offsets from 1 in one epoch":
      async (newBackend) => {
        await using node = await newBackend({ config: { historySize: 10 } });
        const { backend, hub } = node;
        const member = connect(hub, { token: "t", channels: ["news"] });
        await backend.membership.synced();
        const first = await backend.broker.publish("news", "1");
        assert.equal(first.recipients, 1);
        const epoch = first.position?.epoch;
        assert.equal(typeof epoch, "string");
        assert.deepEqual(first.position, { offset: 1, epoch });
        assert.deepEqual(await backend.broker.publish("news", "2"), {
          recipients: 1,
          position: { offset: 2, epoch },
        });
        const many = await backend.broker.publishMany(["news", "sport"], "3");
        assert.deepEqual(many.get("news"), { recipients: 1, position: { offset: 3, epoch } });
        assert.equal(many.get("sport")?.recipients, 0);
        assert.equal(many.get("sport")?.position?.offset, 1);
        await member.untilFrames(3);
        assert.deepEqual(member.parsed().map((frame) => (frame as { offset: number }).offset), [
          1,
          2,
          3,
        ]);
      },

    "a publish through one node reaches every node's subscribers, and counts them all": async (
      newBackend,
    ) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      const here = connect(a.hub, { token: "t", channels: ["news"] });
      const there = connect(b.hub, { token: "t", channels: ["news", "sport"] });
      await Promise.all([a.backend.membership.synced(), b.backend.membership.synced()]);
      assert.deepEqual(await a.backend.broker.publish("news", "1"), { recipients: 2 });
      const many = await b.backend.broker.publishMany(["sport", "news"], "2");
      assert.deepEqual([...many], [["sport", { recipients: 1 }], ["news", { recipients: 2 }]]);
      await here.untilFrames(2);
      await there.untilFrames(3);
      assert.deepEqual(here.parsed(), [
        { message: 1, channel: "news" },
        { message: 2, channel: "news" },
      ]);
      // Each channel's frames in order; across channels, the order of `publishMany` is its own
      // case (channels of different slots go through different shards on Redis Cluster).
      const byChannel = (channel: string) =>
        (there.parsed() as Array<{ channel: string }>).filter((frame) => frame.channel === channel);
      assert.deepEqual(byChannel("news"), [
        { message: 1, channel: "news" },
        { message: 2, channel: "news" },
      ]);
      assert.deepEqual(byChannel("sport"), [{ message: 2, channel: "sport" }]);
    },

    "`exceptName` leaves out the named subscriber on whichever node it is": async (newBackend) => {
      await using a = await newBackend();
      await using b = await newBackend({ peerOf: a });
      const here = connect(a.hub, { token: "t", channels: ["news"] });
      const named = connect(b.hub, { token: "t", channels: ["news"] });
      b.backend.broker.name("socket-1", named);
      await Promise.all([a.backend.membership.synced(), b.backend.membership.synced()]);
      await a.backend.broker.publish("news", "1", { exceptName: "socket-1" });
      await a.backend.broker.publish("news", "2");
      await here.untilFrames(2);
      await named.untilFrames(1);
      assert.deepEqual(named.frames, ['{"message": 2, "channel": "news"}']);
    },
  },
};

/** Names one of two subscribers of `news`, publishes leaving it out, unnames it, publishes
 * leaving the name out again: the named one gets only the last. */
async function checkExceptName(backend: Backend, hub: Hub): Promise<void> {
  const named = connect(hub, { token: "t", channels: ["news"] });
  const other = connect(hub, { token: "t", channels: ["news"] });
  backend.broker.name("socket-1", named);
  await backend.membership.synced();
  await backend.broker.publish("news", "1", { exceptName: "socket-1" });
  await other.untilFrames(1);
  backend.broker.unname("socket-1");
  await backend.broker.publish("news", "2", { exceptName: "socket-1" });
  await other.untilFrames(2);
  await named.untilFrames(1);
  assert.deepEqual(
    named.parsed().map((frame) => (frame as { message: number }).message),
    [2],
  );
}

/** Runs the `Broker` contract as a step of `t`. */
export function runBrokerContract(t: Deno.TestContext, options: ContractOptions): Promise<void> {
  return runSuite(t, brokerContract, options);
}
