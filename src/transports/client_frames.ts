/**
 * @module
 * What a connection lets through of its client's frames, shared by the native and Pusher
 * transports: at most `perSecond` frames a second (a token bucket), applied one after the other
 * (a frame may wait for a round trip: the publish hook, a token check, Redis) with at most
 * `perSecond` waiting, so that a client sending faster than its frames are applied cannot grow
 * the server's memory. Past either limit the connection is closed for too many messages, once,
 * and later frames are dropped. Knows nothing of what a frame does.
 */

import { RateLimit } from "../rate_limit.ts";

/** One connection's limits on its client's frames. */
export class ClientFrames {
  readonly #rate: RateLimit;
  readonly #maxWaiting: number;
  readonly #closeForLimit: () => void;
  readonly #onError: (error: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #isOverLimit = false;
  // Made once: two promises a frame, not three.
  readonly #done = (): void => {
    this.#waiting--;
  };
  readonly #failed = (error: unknown): void => {
    this.#waiting--;
    this.#onError(error);
  };

  /** `closeForLimit` closes the connection for too many messages; `onError` gets what applying
   * a frame threw (the next one is applied anyway). */
  constructor(
    perSecond: number,
    { closeForLimit, onError }: { closeForLimit: () => void; onError: (error: unknown) => void },
  ) {
    this.#rate = new RateLimit(perSecond);
    this.#maxWaiting = perSecond;
    this.#closeForLimit = closeForLimit;
    this.#onError = onError;
  }

  /** Whether a frame that just arrived may be looked at. False once the connection is over a
   * limit; a frame past the rate is the last: the connection is closed after the replies still
   * owed to the frames before it. */
  admit(): boolean {
    if (this.#isOverLimit) return false;
    if (this.#rate.take()) return true;
    this.#isOverLimit = true;
    this.#tail = this.#tail.then(this.#closeForLimit).catch(this.#onError);
    return false;
  }

  /** Applies an admitted frame (`apply`) once those before it are; past `perSecond` waiting,
   * closes the connection at once instead (the replies owed may take long to come). */
  apply(apply: () => Promise<void> | void): void {
    if (this.#waiting >= this.#maxWaiting) {
      this.#isOverLimit = true;
      this.#closeForLimit();
      return;
    }
    this.#waiting++;
    this.#tail = this.#tail.then(apply).then(this.#done, this.#failed);
  }
}
