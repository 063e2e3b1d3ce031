/**
 * @module
 * The broker carries each broadcast to every node that has subscribers of its channel. The
 * local one is today's single process: it hands the frame straight to the hub.
 */

import type { Hub } from "../hub.ts";
import type { Metrics } from "../metrics.ts";

/** Where `POST /broadcast/` hands a rendered frame. */
export interface Broker {
  /** Sends the frame `render` makes to every subscriber of `channel` on every node (rendering
   * it once, or not at all when nobody can receive it), and resolves to the number of
   * recipients: the connections that took it (standalone), or that were subscribed across the
   * cluster at the moment of the publish (cluster mode). Rejects with `ClusterUnavailableError`
   * when it cannot reach the other nodes, and then nothing was sent. */
  publish(channel: string, render: () => string): Promise<number>;
}

/** The standalone broker: this process's hub is the whole server. */
export class LocalBroker implements Broker {
  readonly #hub: Hub;
  readonly #metrics: Metrics;

  constructor(hub: Hub, metrics: Metrics) {
    this.#hub = hub;
    this.#metrics = metrics;
  }

  publish(channel: string, render: () => string): Promise<number> {
    // Nobody to send to: skip rendering the frame (up to --max-body-bytes of JSON).
    if (this.#hub.memberCount(channel) === 0) return Promise.resolve(0);
    return Promise.resolve(deliver(this.#hub, this.#metrics, channel, render()));
  }
}

/** Hands `frame` to this node's subscribers of `channel`, timed and counted; returns how many
 * took it. */
export function deliver(hub: Hub, metrics: Metrics, channel: string, frame: string): number {
  const started = performance.now();
  const sent = hub.publish(channel, frame);
  metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
  metrics.framesDelivered += sent;
  return sent;
}
