/**
 * @module
 * The contract every `Cluster` keeps, standalone or over Redis: its token registry, broker and
 * membership, driven through a real hub with plain-object subscribers. `cluster_contract_test.ts`
 * runs it against both implementations.
 */

import assert from "node:assert/strict";
import type { Backend } from "../src/backend/backend.ts";
import { Hub, type Subscriber } from "../src/hub.ts";
import { Metrics } from "../src/metrics.ts";
import { withTimeout } from "./helpers.ts";

/** A cluster built on `hub`, disposed after each case. */
export type ClusterFactory = (
  hub: Hub,
  metrics: Metrics,
) => Promise<{ cluster: Backend } & AsyncDisposable>;

/** A subscriber that keeps its frames and can wait for the next one. */
class FrameSink implements Subscriber {
  readonly frames: string[] = [];
  #wake: (() => void) | undefined;

  send(frame: string): boolean {
    this.frames.push(frame);
    this.#wake?.();
    return true;
  }

  close(): void {}

  /** Resolves once `count` frames have arrived. */
  async untilFrames(count: number): Promise<void> {
    while (this.frames.length < count) {
      await withTimeout(new Promise<void>((resolve) => this.#wake = resolve), `${count} frames`);
    }
  }
}

/** Registers the contract's tests under `name`. */
export function clusterContract(name: string, create: ClusterFactory): void {
  const test = (title: string, body: (cluster: Backend, hub: Hub) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const hub = new Hub();
      await using built = await create(hub, new Metrics());
      await body(built.cluster, hub);
    });

  test("a minted token is valid until revoked, and revocations are announced", async (cluster) => {
    const revoked: string[] = [];
    const { promise: bothAnnounced, resolve } = Promise.withResolvers<void>();
    cluster.tokens.onRevoke((token) => {
      if (revoked.push(token) === 2) resolve();
    });
    const token = await cluster.tokens.mint();
    assert.equal(await cluster.tokens.isValid(token), true);
    assert.equal(await cluster.tokens.count(), 1);
    assert.deepEqual(await cluster.tokens.all(), [token]);
    assert.equal(await cluster.tokens.revoke(token), true);
    assert.equal(await cluster.tokens.isValid(token), false);
    assert.equal(await cluster.tokens.revoke("never-minted"), false);
    await withTimeout(bothAnnounced, "both revocations to be announced");
    assert.deepEqual(revoked, [token, "never-minted"]);
    assert.equal(await cluster.tokens.count(), 0);
  });

  test(
    "membership counts the hub's joins, leaves and removals once synced",
    async (cluster, hub) => {
      const [first, second] = [new FrameSink(), new FrameSink()];
      hub.add(first);
      hub.add(second);
      hub.authenticate(first, "t1");
      hub.updateChannels(first, ["news", "sport"], []);
      await cluster.membership.synced();
      assert.equal(await cluster.membership.recipients("news"), 1);
      assert.deepEqual(await cluster.membership.snapshot(), {
        anonymous: 1,
        tokens: [["t1", 1]],
        channels: [["news", 1], ["sport", 1]],
      });
      assert.deepEqual(await cluster.membership.channelTokens("sport"), ["t1"]);
      hub.updateChannels(first, [], ["sport"]);
      hub.remove(second);
      await cluster.membership.synced();
      assert.equal(await cluster.membership.recipients("sport"), 0);
      assert.deepEqual(await cluster.membership.snapshot(), {
        anonymous: 0,
        tokens: [["t1", 1]],
        channels: [["news", 1]],
      });
    },
  );

  test(
    "the broker delivers the frame to the channel's subscribers only",
    async (cluster, hub) => {
      const [member, other] = [new FrameSink(), new FrameSink()];
      for (const sink of [member, other]) {
        hub.add(sink);
        hub.authenticate(sink, "t");
      }
      hub.updateChannels(member, ["news"], []);
      hub.updateChannels(other, ["sport"], []);
      await cluster.membership.synced();
      assert.deepEqual(await cluster.broker.publish("news", "1"), { recipients: 1 });
      await member.untilFrames(1);
      assert.deepEqual(member.frames, ['{"message": 1, "channel": "news"}']);
      assert.deepEqual(await cluster.broker.publish("nobody-here", "1"), { recipients: 0 });
      // The second broadcast arrives and nothing else did.
      assert.deepEqual(await cluster.broker.publish("news", "1"), { recipients: 1 });
      await member.untilFrames(2);
      assert.equal(member.frames.length, 2);
      assert.equal(other.frames.length, 0);
    },
  );

  test(
    "the broker publishes to many channels: once each, one frame per channel, in order",
    async (cluster, hub) => {
      const [both, other] = [new FrameSink(), new FrameSink()];
      for (const sink of [both, other]) {
        hub.add(sink);
        hub.authenticate(sink, "t");
      }
      hub.updateChannels(both, ["news", "sport"], []);
      hub.updateChannels(other, ["sport"], []);
      await cluster.membership.synced();
      const results = await cluster.broker.publishMany(["sport", "empty", "news", "sport"], "1");
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
      await cluster.broker.publish("sport", "2");
      await other.untilFrames(2);
      assert.deepEqual(other.frames, [
        '{"message": 1, "channel": "sport"}',
        '{"message": 2, "channel": "sport"}',
      ]);
    },
  );
}
