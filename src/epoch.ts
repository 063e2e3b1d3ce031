/**
 * @module
 * Epochs: the names of a channel's runs of offsets. An epoch tells when it began, so that a
 * position at offset 0 of an epoch no longer kept (a channel that had no message, whose state
 * was freed once its subscribers left) can still be resumed when nothing published since can
 * have been lost. Pure: knows nothing of where history is kept.
 */

/** Hex digits of the time an epoch began (ms since 1970; enough until the year 2527). */
const TIME_DIGITS = 11;
/** Random hex digits after them, so that two epochs of one millisecond differ. */
const RANDOM_DIGITS = 5;
const EPOCH = new RegExp(`^[0-9a-f]{${TIME_DIGITS + RANDOM_DIGITS}}$`);

/** The random digits of a new epoch, for a Redis script that prefixes them with its time. */
export function randomEpochDigits(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(Math.ceil(RANDOM_DIGITS / 2)));
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return hex.slice(0, RANDOM_DIGITS);
}

/** A new epoch begun at `now` (ms): 16 hex digits, the time and then random ones. */
export function newEpoch(now: number = Date.now()): string {
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(TIME_DIGITS, "0");
  return time.slice(-TIME_DIGITS) + randomEpochDigits();
}

/** When `epoch` began (ms), or null for one that does not say (not made by `newEpoch`). */
export function epochStart(epoch: string): number | null {
  return EPOCH.test(epoch) ? parseInt(epoch.slice(0, TIME_DIGITS), 16) : null;
}

/** Whether a client at offset 0 of `since`, an epoch the channel no longer has, can have missed
 * nothing: `since` began no later than `now`, and the channel's current epoch (`current`, or
 * none: then `now`) began after it and less than `ttlMs` later, so that no message published
 * in between has yet expired. The caller still checks that the current epoch keeps every offset
 * from 1, and that nothing was evicted since `since` began. (The Lua twin is in
 * `backend/redis_history.ts`.) */
export function followsWithin(
  since: string,
  current: string | null,
  { now, ttlMs }: { now: number; ttlMs: number },
): boolean {
  const start = epochStart(since);
  const begun = current === null ? now : epochStart(current);
  return start !== null && begun !== null && start <= now && begun >= start &&
    begun - start < ttlMs;
}
