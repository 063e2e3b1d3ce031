/**
 * @module
 * A standalone server's event cache, in memory.
 */

import type { EventCache } from "./event_cache.ts";

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
