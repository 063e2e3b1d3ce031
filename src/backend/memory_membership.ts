/**
 * @module
 * The membership of a standalone server: this process's hub, a cluster of one node.
 */

import type { Hub, HubSnapshot, Presence } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { type Census, countersOf, type Membership, nodeReportOf } from "./membership.ts";

/** Membership of a standalone server: its own hub, a cluster of one node. */
export class MemoryMembership implements Membership {
  readonly #hub: Hub;
  readonly #metrics: Metrics;
  readonly #nodeId: string;

  constructor(hub: Hub, { metrics, nodeId }: { metrics: Metrics; nodeId: string }) {
    this.#hub = hub;
    this.#metrics = metrics;
    this.#nodeId = nodeId;
  }

  recipients(channel: string): Promise<number> {
    return Promise.resolve(this.#hub.memberCount(channel));
  }

  snapshot(): Promise<HubSnapshot> {
    return Promise.resolve(this.#hub.snapshot());
  }

  channelTokens(channel: string): Promise<string[]> {
    return Promise.resolve(this.#hub.channelTokens(channel));
  }

  presence(channel: string): Promise<Presence> {
    return Promise.resolve(this.#hub.presence(channel));
  }

  census(): Promise<Census> {
    const report = nodeReportOf(this.#nodeId, { hub: this.#hub, metrics: this.#metrics });
    return Promise.resolve({
      nodes: [report],
      hub: this.#hub.snapshot(),
      counters: countersOf(this.#metrics),
    });
  }

  userConnections(user: string): Promise<number> {
    return Promise.resolve(this.#hub.userConnections(user));
  }

  synced(): Promise<void> {
    return Promise.resolve();
  }
}
