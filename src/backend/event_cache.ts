/**
 * @module
 * The last frame sent on each of some channels (a Pusher app's `cache-` channels), kept for a
 * while so that a new subscriber gets it: the interface every backend implements
 * (memory_event_cache.ts, redis_event_cache.ts). Knows nothing of the wire.
 */

/** The last frame of channels, across the cluster. */
export interface EventCache {
  /** Keeps `frame` as `channel`'s last, for `ttlMs`. Rejects with `BackendUnavailableError`
   * when it cannot be written. */
  set(channel: string, frame: string, ttlMs: number): Promise<void>;
  /** `channel`'s last frame, or null when it has none (any more). Rejects with
   * `BackendUnavailableError` when it cannot be read. */
  get(channel: string): Promise<string | null>;
}
