/**
 * @module
 * What a Redis link tells its users: connections (re)established, subscriptions proven again
 * or interrupted, and messages. One list of listeners per event, for `RedisMasterLink` and
 * `RedisClusterLink` alike.
 */

import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import type { MessageListener, ReadyListener } from "./redis_link.ts";

/** The listeners of a link, and the telling of each event. */
export class LinkEvents {
  readonly #ready: ReadyListener[] = [];
  readonly #subscribed: ReadyListener[] = [];
  readonly #messages: MessageListener[] = [];
  readonly #interrupted: Array<() => void> = [];
  readonly #resubscribed: Array<() => void> = [];
  readonly #logger: Logger;
  readonly #redact: (message: string) => string;

  /** A ready listener's failure is logged by `logger`, its message through `redact`. */
  constructor(logger: Logger, redact: (message: string) => string) {
    this.#logger = logger;
    this.#redact = redact;
  }

  onReady(listener: ReadyListener): void {
    this.#ready.push(listener);
  }

  onSubscribed(listener: ReadyListener): void {
    this.#subscribed.push(listener);
  }

  onInterruption(interrupted: () => void, resubscribed: () => void): void {
    this.#interrupted.push(interrupted);
    this.#resubscribed.push(resubscribed);
  }

  onMessage(listener: MessageListener): void {
    this.#messages.push(listener);
  }

  /** A command connection is (re)established. */
  ready(): void {
    this.#emit(this.#ready);
  }

  /** A subscription delivers again. */
  subscribed(): void {
    this.#emit(this.#subscribed);
  }

  /** A subscription was lost or replaced: what comes next may follow a gap. */
  interrupted(): void {
    for (const listener of this.#interrupted) listener();
  }

  /** The replacement subscription is confirmed. */
  resubscribed(): void {
    for (const listener of this.#resubscribed) listener();
  }

  /** A message of a subscribed channel. */
  message(channel: string, message: string): void {
    for (const listener of this.#messages) listener(channel, message);
  }

  #emit(listeners: readonly ReadyListener[]): void {
    for (const listener of listeners) {
      Promise.resolve(listener()).catch((error) =>
        this.#logger.warn("redis reconnect step failed", {
          error: this.#redact(errorMessage(error)),
        })
      );
    }
  }
}
