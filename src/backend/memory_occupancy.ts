/**
 * @module
 * `channel.occupied` and `channel.vacated` for a standalone server: occupied when a channel's
 * first subscriber joins, vacated when its last one has been gone for `--webhook-vacate-delay`;
 * a rejoin within the delay cancels it, so a page reload sends nothing.
 */

import type { Hub } from "../hub.ts";
import type { EventSink } from "../webhooks/events.ts";
import type { Occupancy } from "./occupancy.ts";

/** Follows the hub's channels and tells `sink` when they become occupied or vacated. */
export class MemoryOccupancy implements Occupancy {
  readonly #hub: Hub;
  readonly #sink: EventSink;
  readonly #delayMs: number;
  /** Channels announced occupied, with the timer of a pending vacate, if any. */
  readonly #occupied = new Map<string, ReturnType<typeof setTimeout> | undefined>();
  readonly #stop: () => void;

  constructor(hub: Hub, sink: EventSink, { delayMs }: { delayMs: number }) {
    this.#hub = hub;
    this.#sink = sink;
    this.#delayMs = delayMs;
    this.#stop = hub.onChange(({ channels }) => {
      for (const channel of channels) this.#changed(channel);
    });
  }

  #changed(channel: string): void {
    const isEmpty = this.#hub.memberCount(channel) === 0;
    if (!this.#occupied.has(channel)) {
      if (isEmpty) return;
      this.#occupied.set(channel, undefined);
      this.#sink.emit({ type: "channel.occupied", channel });
      return;
    }
    const pending = this.#occupied.get(channel);
    if (!isEmpty) {
      clearTimeout(pending);
      this.#occupied.set(channel, undefined);
    } else if (pending === undefined) {
      this.#occupied.set(channel, setTimeout(() => this.#vacate(channel), this.#delayMs));
    }
  }

  #vacate(channel: string): void {
    if (this.#hub.memberCount(channel) > 0) {
      this.#occupied.set(channel, undefined);
      return;
    }
    this.#occupied.delete(channel);
    this.#sink.emit({ type: "channel.vacated", channel });
  }

  /** Stops following the hub; channels whose vacate was pending are vacated now (at shutdown,
   * every channel empties and nobody would send them later). */
  [Symbol.dispose](): void {
    this.#stop();
    for (const [channel, timer] of this.#occupied) {
      clearTimeout(timer);
      if (this.#hub.memberCount(channel) === 0) {
        this.#sink.emit({ type: "channel.vacated", channel });
      }
    }
    this.#occupied.clear();
  }
}
