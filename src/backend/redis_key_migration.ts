/**
 * @module
 * Brings a Redis written by Boreas 0.1 to today's key shapes: its token keys and users' blocks
 * were spread over several Redis Cluster slots, and now share one each (`{tokens}`,
 * `{users}`, see keys.ts). Run by every node
 * each time its link is ready, before it provides tokens (redis_tokens.ts); renaming is atomic, so nodes racing
 * each other rename each key once. Upgrade every node of a cluster together: a 0.1 node goes
 * on writing the old keys, which the others no longer read.
 */

import type { RedisKeys } from "./keys.ts";
import type { RedisClient } from "./redis_link.ts";

/** Renames the 0.1 token keys and blocks `redis` still holds; resolves to how many it renamed. A key
 * whose new name already exists is left as it is, and counted out. */
export async function migrateTokenKeys(redis: RedisClient, keys: RedisKeys): Promise<number> {
  let renamed = 0;
  for (const [legacy, current] of keys.legacyTokenKeys) {
    if (await redis.exists(legacy) === 1 && await redis.renameNX(legacy, current) === 1) {
      renamed++;
    }
  }
  const families = [
    { ...keys.legacyUserTokens, current: (user: string) => keys.userTokens(user) },
    { ...keys.legacyUserBlocks, current: (user: string) => keys.userBlock(user) },
  ];
  for (const { pattern, userOf, current } of families) {
    for await (const found of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
      for (const legacy of found) {
        const user = userOf(legacy);
        if (user !== null && await redis.renameNX(legacy, current(user)) === 1) renamed++;
      }
    }
  }
  return renamed;
}
