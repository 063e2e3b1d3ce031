/**
 * @module
 * The memory broker, a single process's: it keeps the message in the history (when it is on)
 * and hands the frame straight to the hub.
 */

import { isAdapterChannel } from "../channel.ts";
import type { MemoryHistory } from "./memory_history.ts";
import type { Hub, Subscriber } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { renderFrame } from "../protocol.ts";
import { type Broker, deliver, type PublishOptions, type PublishResult } from "./broker.ts";

/** The standalone broker: this process's hub is the whole server. */
export class MemoryBroker implements Broker {
  readonly #hub: Hub;
  readonly #metrics: Metrics;
  readonly #history: MemoryHistory | null;
  readonly #named = new Map<string, Subscriber>();

  constructor(hub: Hub, metrics: Metrics, history: MemoryHistory | null = null) {
    this.#hub = hub;
    this.#metrics = metrics;
    this.#history = history;
  }

  publish(channel: string, payload: string, options: PublishOptions = {}): Promise<PublishResult> {
    return Promise.resolve(this.#publishNow(channel, payload, options));
  }

  publishMany(
    channels: readonly string[],
    payload: string,
  ): Promise<ReadonlyMap<string, PublishResult>> {
    const results = new Map<string, PublishResult>();
    for (const channel of channels) {
      if (!results.has(channel)) results.set(channel, this.#publishNow(channel, payload, {}));
    }
    return Promise.resolve(results);
  }

  name(name: string, subscriber: Subscriber): void {
    this.#named.set(name, subscriber);
  }

  unname(name: string): void {
    this.#named.delete(name);
  }

  #publishNow(channel: string, payload: string, options: PublishOptions): PublishResult {
    // An adapter's channels (a Pusher app's) have no history to resume from.
    const position = isAdapterChannel(channel)
      ? undefined
      : this.#history?.append(channel, payload, options.user ?? null);
    const kept = position === undefined ? {} : { position };
    // Nobody to send to: skip rendering the frame (up to --max-body-bytes of JSON).
    if (this.#hub.memberCount(channel) === 0) return { recipients: 0, ...kept };
    const offset = position?.offset;
    const frame = renderFrame(channel, payload, offset, options.user);
    const except = options.except ??
      (options.exceptName === undefined ? undefined : this.#named.get(options.exceptName));
    const recipients = deliver(this.#hub, this.#metrics, channel, frame, { offset, except });
    return { recipients, ...kept };
  }
}
