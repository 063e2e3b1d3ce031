/**
 * @module
 * A token bucket: what limits a client's messages (`--max-client-messages-per-second`), a
 * Pusher connection's frames, and its client events.
 */

/** Up to `perSecond` takes at once, refilled at `perSecond` a second. */
export class RateLimit {
  readonly #perSecond: number;
  readonly #now: () => number;
  #allowance: number;
  #allowanceAt: number;

  /** `now` is the clock in milliseconds; the default, `performance.now`, never goes back (the
   * wall clock can, and would then empty the bucket for as long as it went back). */
  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#now = now;
    this.#allowance = perSecond;
    this.#allowanceAt = now();
  }

  /** Takes one from the bucket: false when it is empty. */
  take(): boolean {
    const now = this.#now();
    const refilled = Math.max(0, now - this.#allowanceAt) * this.#perSecond / 1000;
    this.#allowance = Math.min(this.#perSecond, this.#allowance + refilled);
    this.#allowanceAt = now;
    if (this.#allowance < 1) return false;
    this.#allowance--;
    return true;
  }
}
