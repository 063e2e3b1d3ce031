/**
 * @module
 * A token bucket: what limits a client's messages (`--max-client-messages-per-second`) and a
 * Pusher connection's client events.
 */

/** Up to `perSecond` takes at once, refilled at `perSecond` a second. */
export class RateLimit {
  readonly #perSecond: number;
  readonly #now: () => number;
  #allowance: number;
  #allowanceAt: number;

  /** `now` is the clock in milliseconds (default `Date.now`). */
  constructor(perSecond: number, now: () => number = Date.now) {
    this.#perSecond = perSecond;
    this.#now = now;
    this.#allowance = perSecond;
    this.#allowanceAt = now();
  }

  /** Takes one from the bucket: false when it is empty. */
  take(): boolean {
    const now = this.#now();
    const refilled = (now - this.#allowanceAt) * this.#perSecond / 1000;
    this.#allowance = Math.min(this.#perSecond, this.#allowance + refilled);
    this.#allowanceAt = now;
    if (this.#allowance < 1) return false;
    this.#allowance--;
    return true;
  }
}
