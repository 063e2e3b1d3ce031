/**
 * @module
 * A fixed-bucket latency histogram, cheap enough to record every delivery: 10 µs buckets up
 * to 100 ms, then 1 ms buckets up to 10 s; anything slower lands in the last bucket.
 */

const FINE_BUCKETS = 10_000;
const FINE_PER_MS = 100;
const COARSE_BUCKETS = 9_900;
const FINE_LIMIT_MS = FINE_BUCKETS / FINE_PER_MS;

/** Latencies in milliseconds, with percentiles accurate to a bucket (10 µs below 100 ms). */
export class LatencyHistogram {
  readonly #counts = new Uint32Array(FINE_BUCKETS + COARSE_BUCKETS);
  #count = 0;

  /** Records one latency of `ms` milliseconds (negative values count as 0). */
  record(ms: number): void {
    const index = ms < FINE_LIMIT_MS
      ? Math.max(0, Math.floor(ms * FINE_PER_MS))
      : FINE_BUCKETS + Math.min(COARSE_BUCKETS - 1, Math.floor(ms - FINE_LIMIT_MS));
    this.#counts[index]!++;
    this.#count++;
  }

  /** How many latencies were recorded. */
  get count(): number {
    return this.#count;
  }

  /** Forgets every recorded latency. */
  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
  }

  /** The latency below which `fraction` (0-1) of the recordings fall, in milliseconds (the
   * upper edge of its bucket); NaN when nothing was recorded. */
  percentile(fraction: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        return i < FINE_BUCKETS ? (i + 1) / FINE_PER_MS : FINE_LIMIT_MS + (i - FINE_BUCKETS) + 1;
      }
    }
    return Infinity;
  }
}
