/**
 * @module
 * The last frame of channels (see event_cache.ts) for the whole cluster: one Redis string per
 * channel, expiring with it.
 */

import type { EventCache } from "./event_cache.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";

/** Last frames kept in Redis. */
export class RedisEventCache implements EventCache {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;

  constructor(link: RedisLink, keys: RedisKeys) {
    this.#link = link;
    this.#keys = keys;
  }

  async set(channel: string, frame: string, ttlMs: number): Promise<void> {
    const key = this.#keys.lastFrame(channel);
    await this.#link.run(
      (redis) => redis.set(key, frame, { expiration: { type: "PX", value: ttlMs } }),
      { key },
    );
  }

  async get(channel: string): Promise<string | null> {
    const key = this.#keys.lastFrame(channel);
    const frame = await this.#link.run((redis) => redis.get(key), { key });
    return typeof frame === "string" ? frame : null;
  }
}
