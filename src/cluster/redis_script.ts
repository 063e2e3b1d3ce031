/**
 * @module
 * A Lua script sent to Redis once and then called by its SHA-1 (EVALSHA), falling back to
 * EVAL when Redis does not know it (a restart flushes the script cache).
 */

import { createHash } from "node:crypto";
import type { RedisClient } from "./redis_link.ts";

/** One script, runnable on any connection. */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
  }

  /** Runs the script with `keys` and `args`. */
  async run(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const options = { keys: [...keys], arguments: args.map(String) };
    try {
      return await redis.evalSha(this.#sha, options);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return await redis.eval(this.#source, options);
    }
  }
}
