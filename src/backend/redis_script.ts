/**
 * @module
 * A Lua script sent to Redis once and then called by its SHA-1 (EVALSHA), falling back to
 * EVAL when Redis does not know it (a restart flushes the script cache). Several calls can go
 * together, in one pipeline. The scripts' sources are the `.lua` files of `lua/`, imported as
 * text; the keys they touch are named in keys.ts.
 */

import { createHash } from "node:crypto";
import type { KeyedRun, RedisClient } from "./redis_link.ts";

/** One call of a script: its keys and arguments. */
export interface ScriptCall {
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
}

/** One script, runnable on any connection. */
export class RedisScript {
  readonly #source: string;
  readonly #sha: string;

  /** One script made of `sources` in order: shared functions first, then the body. */
  constructor(...sources: string[]) {
    const source = sources.join("\n");
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

  /** Runs the script with `keys` and `args` through `run`, on the master of `keys[0]`'s slot
   * (every key of a call shares it). */
  runOn(
    run: KeyedRun,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return run(keys[0] ?? "", (redis) => this.run(redis, keys, args));
  }

  /** Runs the script once per call, every call written at once as one pipeline: one round
   * trip, whatever their number. Each call is atomic on its own, not the whole: calls may
   * touch keys of different Redis Cluster slots. Resolves to the replies in order; rejects
   * with the first call's error when any failed (the others ran). */
  async runEach(redis: RedisClient, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const command = (call: ScriptCall, head: readonly string[]) => [
      ...head,
      String(call.keys.length),
      ...call.keys,
      ...call.args.map(String),
    ];
    // The first call carries the source (EVAL caches the script), so that the others, by SHA,
    // find it even in a Redis that just restarted: no round trip to learn it did not know it.
    // Redis runs a connection's commands in order, so only a SCRIPT FLUSH between two of them
    // could refuse one (NOSCRIPT, without running it), and then the call rejects.
    const replies = await pipeline(
      redis,
      calls.map((call, i) =>
        command(call, i === 0 ? ["EVAL", this.#source] : ["EVALSHA", this.#sha])
      ),
    );
    const failed = replies.find((reply) => reply instanceof Error);
    if (failed !== undefined) throw failed;
    return replies;
  }
}

/** Sends `commands` together: the client writes every command queued in one tick at once, as
 * it writes a pipeline (whose promise would reject as a whole on any error reply). The replies
 * in order, an error in place of each that failed. */
async function pipeline(redis: RedisClient, commands: readonly string[][]): Promise<unknown[]> {
  const settled = await Promise.allSettled(commands.map((command) => redis.sendCommand(command)));
  return settled.map((result) => result.status === "fulfilled" ? result.value : result.reason);
}
