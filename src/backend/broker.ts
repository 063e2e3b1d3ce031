/**
 * @module
 * The broker carries each broadcast to every node that has subscribers of its channel: the
 * interface every backend implements (memory_broker.ts, redis_broker.ts), and the hand-over
 * of a frame to this node's subscribers that every broker ends with.
 */

import type { Position } from "./history.ts";
import type { Hub, Subscriber } from "../hub.ts";
import type { Metrics } from "../metrics.ts";

/** What a publish did: who it reached, and where the message stands in the channel's history
 * (absent with history off). */
export interface PublishResult {
  readonly recipients: number;
  readonly position?: Position;
}

/** What a client's publication adds to a broadcast. */
export interface PublishOptions {
  /** Who published it (its token's user), named in the frame; null or absent: nobody. */
  readonly user?: string | null;
  /** A subscriber of this node that does not receive it: the publishing connection. */
  readonly except?: Subscriber;
  /** A subscriber named with `Broker.name` (a Pusher socket id), on whichever node it is,
   * that does not receive it. */
  readonly exceptName?: string;
}

/** Where `POST /broadcast/` and clients' publications hand a message. */
export interface Broker {
  /** Sends `payload` (JSON text) to every subscriber of `channel` on every node, rendering its
   * frame once (or not at all when nobody can receive it). `recipients` counts the connections
   * that took it (standalone), or that were subscribed across the cluster at the moment of the
   * publish (cluster mode). Rejects with `BackendUnavailableError` when it cannot reach the
   * other nodes: then nothing was sent, unless Redis took the command and stopped answering
   * (a command timeout), when it may have gone out anyway. */
  publish(channel: string, payload: string, options?: PublishOptions): Promise<PublishResult>;
  /** Sends `payload` (JSON text) to each of `channels` as `publish` does to one, a name
   * given twice once: a subscriber of several gets one frame per channel, in the order of
   * `channels` (on Redis Cluster, only among channels of one slot). Resolves to each channel's result, in that order. In cluster mode every
   * channel goes to Redis in one round trip; rejects with `BackendUnavailableError` when it
   * cannot reach the other nodes, and then nothing was sent. */
  publishMany(
    channels: readonly string[],
    payload: string,
  ): Promise<ReadonlyMap<string, PublishResult>>;
  /** Names `subscriber` of this node, so that a publish through any node can leave it out
   * (`exceptName`), until `unname`. A name holds no space. */
  name(name: string, subscriber: Subscriber): void;
  /** Forgets a name given by `name`. */
  unname(name: string): void;
}

/** Hands `frame` (the message at `offset`, with history on) to this node's subscribers of
 * `channel` but `except`, timed and counted; returns how many took it. */
export function deliver(
  hub: Hub,
  metrics: Metrics,
  channel: string,
  frame: string,
  { offset, except }: { offset?: number | undefined; except?: Subscriber | undefined } = {},
): number {
  const started = performance.now();
  const sent = hub.publish(channel, frame, offset, except);
  metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
  metrics.framesDelivered += sent;
  return sent;
}
