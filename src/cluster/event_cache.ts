/**
 * @module
 * The last frame sent on each of some channels (a Pusher app's `cache-` channels), kept for a
 * while so that a new subscriber gets it: the interface, and a standalone server's in memory.
 * `RedisEventCache` (redis_event_cache.ts) keeps it for the cluster. Knows nothing of the wire.
 */

/** The last frame of channels, across the cluster. */
export interface EventCache {
  /** Keeps `frame` as `channel`'s last, for `ttlMs`. Rejects with `ClusterUnavailableError`
   * when it cannot be written. */
  set(channel: string, frame: string, ttlMs: number): Promise<void>;
  /** `channel`'s last frame, or null when it has none (any more). Rejects with
   * `ClusterUnavailableError` when it cannot be read. */
  get(channel: string): Promise<string | null>;
}

/** How many writes between two sweeps of the expired frames. */
const SWEEP_EVERY = 1000;

/** A standalone server's cache: a map, swept of what expired every `SWEEP_EVERY` writes. */
export class MemoryEventCache implements EventCache {
  readonly #frames = new Map<string, { frame: string; expiresAt: number }>();
  #writes = 0;

  set(channel: string, frame: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    if (++this.#writes % SWEEP_EVERY === 0) {
      for (const [name, { expiresAt }] of this.#frames) {
        if (expiresAt <= now) this.#frames.delete(name);
      }
    }
    this.#frames.set(channel, { frame, expiresAt: now + ttlMs });
    return Promise.resolve();
  }

  get(channel: string): Promise<string | null> {
    const kept = this.#frames.get(channel);
    if (kept === undefined) return Promise.resolve(null);
    if (kept.expiresAt > Date.now()) return Promise.resolve(kept.frame);
    this.#frames.delete(channel);
    return Promise.resolve(null);
  }
}
