/**
 * @module
 * Brings the members' keys Boreas 0.1 wrote to today's shapes (keys.ts), in which no script
 * spans two Redis Cluster slots: 0.1 listed every channel's pending lefts in one sorted set,
 * and each node's channels with members under a tag of the node's own. Run by each node, for
 * each kind of members, every time its link is ready; each step can be done twice, so nodes
 * racing each other move each entry once. Upgrade every node of a cluster together: a 0.1
 * node goes on writing the old keys, which the others only move as they connect.
 */

import type { RedisKeys } from "./keys.ts";
import type { RedisClient } from "./redis_link.ts";
import { listLeaving } from "./redis_members_sweep.ts";
import { RedisScript } from "./redis_script.ts";
import MEMBERS_PRELUDE_LUA from "./lua/members_prelude.lua" with { type: "text" };
import MEMBERS_ADOPT_LUA from "./lua/members_adopt.lua" with { type: "text" };

const ADOPT_SCRIPT = new RedisScript(MEMBERS_PRELUDE_LUA, MEMBERS_ADOPT_LUA);

/** How many of 0.1's pending lefts are moved per round trip. */
const BATCH = 500;

/** Moves the 0.1 members' keys of `kind` that `redis` still holds; resolves to how many nodes'
 * lists and pending lefts it moved. A left whose user came back since is dropped. */
export async function migrateMemberKeys(
  redis: RedisClient,
  keys: RedisKeys,
  kind: string,
): Promise<number> {
  return await moveNodeLists(redis, keys, kind) + await moveLefts(redis, keys, kind);
}

/** Moves each node's list of channels into the nodes' slot, the new list before the old goes,
 * so that a failure in between leaves both (the same channels twice). */
async function moveNodeLists(redis: RedisClient, keys: RedisKeys, kind: string): Promise<number> {
  const legacy = keys.legacyMemberKeys(kind);
  const nodes = await redis.sMembers(legacy.nodes);
  for (const node of nodes) {
    const channels = await redis.sMembers(legacy.channelsOf(node));
    if (channels.length > 0) await redis.sAdd(keys.memberChannels(node, kind), channels);
    await redis.sAdd(keys.memberNodes(kind), node);
    await redis.del(legacy.channelsOf(node));
    await redis.sRem(legacy.nodes, node);
  }
  return nodes.length;
}

/** Moves the pending lefts into their channels, each channel listed before its lefts leave
 * the old set. */
async function moveLefts(redis: RedisClient, keys: RedisKeys, kind: string): Promise<number> {
  const { leaving } = keys.legacyMemberKeys(kind);
  let moved = 0;
  for (;;) {
    const batch = await redis.zRangeWithScores(leaving, 0, BATCH - 1);
    if (batch.length === 0) return moved;
    const lefts = batch.flatMap(({ value, score }) => {
      const left = parseLeft(value);
      return left === null ? [] : [{ ...left, value, score }];
    });
    const dues = await Promise.all(
      lefts.map(({ channel, user, value, score }) =>
        ADOPT_SCRIPT.run(redis, [
          keys.members(channel),
          keys.leavingMembers(channel),
          keys.leftFrames(channel),
        ], [user, score, value]) as Promise<number>
      ),
    );
    // One Redis (0.1 never ran on Redis Cluster): every key is on this connection.
    await listLeaving((_key, command) => command(redis), keys, {
      kind,
      dues: lefts.map(({ channel }, i) => [channel, dues[i]!]),
    });
    await redis.zRem(leaving, batch.map(({ value }) => value));
    moved += lefts.length;
  }
}

/** The channel and user of a 0.1 pending left, or null for anything else. */
function parseLeft(value: string): { channel: string; user: string } | null {
  try {
    const { channel, user, frame } = JSON.parse(value) as Record<string, unknown>;
    const isLeft = [channel, user, frame].every((field) => typeof field === "string");
    return isLeft ? { channel: channel as string, user: user as string } : null;
  } catch {
    return null;
  }
}
