/**
 * @module
 * When a `ttl` ends: a token's (`POST /token/`) and a block's (`PUT /users/{user}/block`).
 */

/** The end of something `ttl` seconds long that starts at `nowMs`, in whole Unix seconds,
 * rounded up so that it lasts at least `ttl` seconds (and less than one more). */
export function endAfter(ttl: number, nowMs: number = Date.now()): number {
  return Math.ceil(nowMs / 1000) + ttl;
}
