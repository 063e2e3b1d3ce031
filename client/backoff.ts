/**
 * @module
 * Reconnect timing: exponential back-off with jitter, capped. Pure but for `Math.random`,
 * which callers may replace.
 */

/** How long a subscriber waits between connection attempts: `initialDelayMs × factor^n`
 * before the (n+1)th retry in a row, capped at `maxDelayMs`, with jitter.
 *
 * ```ts
 * import { BoreasSubscriber, type ReconnectOptions } from "./mod.ts";
 *
 * const reconnect: ReconnectOptions = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2 };
 * const subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T", reconnect });
 * ```
 */
export interface ReconnectOptions {
  /** Delay before the first retry, in milliseconds. Default 500. */
  readonly initialDelayMs?: number;
  /** Longest delay between two attempts, in milliseconds. Default 30 000. */
  readonly maxDelayMs?: number;
  /** How much the delay grows after each failed attempt; at least 1. Default 2. */
  readonly factor?: number;
}

/** The defaults of `ReconnectOptions`.
 *
 * ```ts
 * import { DEFAULT_RECONNECT } from "./mod.ts";
 *
 * const slower = { ...DEFAULT_RECONNECT, initialDelayMs: 2_000 };
 * ```
 */
export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  factor: 2,
});

/** Fills in the defaults and checks the values; throws `RangeError` naming a bad one. */
export function resolveReconnect(options: ReconnectOptions = {}): Required<ReconnectOptions> {
  const resolved = { ...DEFAULT_RECONNECT, ...withoutUndefined(options) };
  const { initialDelayMs, maxDelayMs, factor } = resolved;
  if (!(Number.isFinite(initialDelayMs) && initialDelayMs >= 0)) {
    throw new RangeError(
      `reconnect.initialDelayMs: expected a finite number >= 0, got ${initialDelayMs}`,
    );
  }
  if (!(maxDelayMs >= initialDelayMs)) {
    throw new RangeError(
      `reconnect.maxDelayMs: expected at least initialDelayMs, got ${maxDelayMs}`,
    );
  }
  if (!(Number.isFinite(factor) && factor >= 1)) {
    throw new RangeError(`reconnect.factor: expected a finite number >= 1, got ${factor}`);
  }
  return resolved;
}

/** The delay before retry number `attempt` (0 for the first retry after a drop), in
 * milliseconds: the exponential delay capped at `maxDelayMs`, then a uniformly random point
 * in its upper half ("equal jitter"), so that clients dropped together do not all come back
 * at the same instant, and no delay exceeds the cap.
 *
 * ```ts
 * import { backoffDelay } from "./mod.ts";
 *
 * // With random() = 1, the delay is the capped exponential one: 100, 200, 400, 800, 1000.
 * const delays = [0, 1, 2, 3, 4].map((attempt) =>
 *   backoffDelay(attempt, { initialDelayMs: 100, maxDelayMs: 1_000, random: () => 1 })
 * );
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: ReconnectOptions & { readonly random?: () => number } = {},
): number {
  const { random = Math.random, ...reconnect } = options;
  const { initialDelayMs, maxDelayMs, factor } = resolveReconnect(reconnect);
  // 0 × Infinity would be NaN: a zero delay stays zero however many attempts failed.
  const capped = initialDelayMs === 0
    ? 0
    : Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, attempt));
  return capped / 2 + (capped / 2) * random();
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
