/**
 * @module
 * Fan-out through Redis pub/sub: a broadcast is published once, already rendered, on its
 * channel's pub/sub channel, and every node subscribed to it (this one too) hands the frame to
 * its own hub. Counting the recipients and publishing are one MULTI (one script with history
 * on, which also assigns the offset and keeps the message), so the count is the cluster's at the
 * moment of the publish.
 */

import type { Hub } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { CLOSE, renderFrame } from "../protocol.ts";
import { type Broker, deliver, type PublishResult } from "./broker.ts";
import { CatchUp } from "./catch_up.ts";
import { ClusterUnavailableError } from "./errors.ts";
import type { RedisKeys } from "./keys.ts";
import { PUBLISH_SCRIPT, type RedisHistory } from "./redis_history.ts";
import type { RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";
import type { Position } from "../history.ts";
import { randomEpochDigits } from "../epoch.ts";

/** History options of a broker that keeps messages. */
export interface BrokerHistory {
  readonly history: RedisHistory;
  readonly size: number;
  readonly ttlMs: number;
}

/** Publishes through Redis and delivers what Redis sends to this node's hub. */
export class RedisBroker implements Broker {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #membership: RedisMembership;
  readonly #history: BrokerHistory | null;
  readonly #catchUp: CatchUp | null;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, metrics, membership, history = null }: {
      hub: Hub;
      metrics: Metrics;
      membership: RedisMembership;
      history?: BrokerHistory | null;
    },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#membership = membership;
    this.#history = history;
    const catchUp = history === null ? null : new CatchUp({
      deliver: (channel, frame, offset) => deliver(hub, metrics, channel, frame, offset),
      render: (channel, message) => renderFrame(channel, message.payload, message.offset),
      missed: (channel, since) => history.history.missed(channel, since),
      giveUp: (channel) =>
        hub.disconnectChannel(channel, CLOSE.resumeRequired.code, CLOSE.resumeRequired.reason),
      members: (channel) => hub.memberCount(channel),
    });
    this.#catchUp = catchUp;
    if (catchUp !== null) {
      link.onInterruption(() => catchUp.interrupt(), () => catchUp.resume());
      hub.onChange(({ channels }) => {
        for (const channel of channels) {
          if (hub.memberCount(channel) === 0) catchUp.forget(channel);
        }
      });
    }
    link.onMessage((pubsubChannel, message) => {
      const channel = keys.channelOf(pubsubChannel);
      if (channel === null) return;
      // With history on, `<offset> <epoch> <frame>`; without, the frame alone.
      if (catchUp === null || message.startsWith("{")) {
        deliver(hub, metrics, channel, message);
        return;
      }
      const first = message.indexOf(" ");
      const second = message.indexOf(" ", first + 1);
      const offset = Number(message.slice(0, first));
      catchUp.receive(channel, offset, message.slice(first + 1, second), message.slice(second + 1));
    });
  }

  /** Takes the positions a join reported as where this node stands in those channels, for
   * the channels it did not follow yet (with history on). */
  follow(positions: ReadonlyMap<string, Position>): void {
    for (const [channel, position] of positions) this.#catchUp?.follow(channel, position);
  }

  async publish(channel: string, payload: string): Promise<PublishResult> {
    // A node that cannot hear Redis would count its own subscribers and then miss the frame.
    const problem = this.#link.problems()[0];
    if (problem !== undefined) throw new ClusterUnavailableError(problem);
    if (this.#history !== null) return await this.#publishKept(channel, payload, this.#history);
    const keys = this.#keys;
    const counts = await this.#link.run(async (redis) => {
      const [nodes] = await redis.multi()
        .hGetAll(keys.channelNodes(channel))
        .publish(keys.broadcastChannel(channel), renderFrame(channel, payload))
        .exec();
      return nodes as unknown as Record<string, string>;
    });
    return { recipients: this.#membership.sumLive(counts) };
  }

  async #publishKept(
    channel: string,
    payload: string,
    { history, size, ttlMs }: BrokerHistory,
  ): Promise<PublishResult> {
    const keys = this.#keys;
    const [offset, epoch, flat] = await this.#link.run((redis) =>
      PUBLISH_SCRIPT.run(
        redis,
        [keys.historyMeta(channel), keys.historyStream(channel), keys.channelNodes(channel)],
        [
          randomEpochDigits(),
          ttlMs,
          size,
          payload,
          keys.broadcastChannel(channel),
          JSON.stringify(channel),
        ],
      )
    ) as [number, string, string[]];
    // Sent: a failed trim leaves older messages kept until they expire, and must not say the
    // publish failed.
    await history.kept(channel, { offset, epoch }, payload).catch(() => {});
    const counts: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) counts[flat[i]!] = flat[i + 1]!;
    return { recipients: this.#membership.sumLive(counts), position: { offset, epoch } };
  }
}
