/**
 * @module
 * Fan-out through Redis pub/sub: a broadcast is published once, already rendered, on its
 * channel's pub/sub channel, and every node subscribed to it (this one too) hands the frame to
 * its own hub. Counting the recipients and publishing are one MULTI, so the count is the
 * cluster's at the moment of the publish.
 */

import type { Hub } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { renderFrame } from "../protocol.ts";
import { type Broker, deliver, type PublishResult } from "./broker.ts";
import { ClusterUnavailableError } from "./errors.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";

/** Publishes through Redis and delivers what Redis sends to this node's hub. */
export class RedisBroker implements Broker {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #membership: RedisMembership;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, metrics, membership }: { hub: Hub; metrics: Metrics; membership: RedisMembership },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#membership = membership;
    link.onMessage((pubsubChannel, frame) => {
      const channel = keys.channelOf(pubsubChannel);
      if (channel !== null) deliver(hub, metrics, channel, frame);
    });
  }

  async publish(channel: string, payload: string): Promise<PublishResult> {
    // A node that cannot hear Redis would count its own subscribers and then miss the frame.
    const problem = this.#link.problems()[0];
    if (problem !== undefined) throw new ClusterUnavailableError(problem);
    const keys = this.#keys;
    const frame = renderFrame(channel, payload);
    const counts = await this.#link.run(async (redis) => {
      const [nodes] = await redis.multi()
        .hGetAll(keys.channelNodes(channel))
        .publish(keys.broadcastChannel(channel), frame)
        .exec();
      return nodes as unknown as Record<string, string>;
    });
    return { recipients: this.#membership.sumLive(counts) };
  }
}
