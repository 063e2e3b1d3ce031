/**
 * @module
 * The members' writes and reads in Redis, one Redis Cluster slot per script: a node's changes,
 * channel by channel, after its list of channels (in the nodes' slot), and the channels'
 * rosters. What the changes are, and when to write them, is redis_members.ts's.
 */

import type { MemberRoster } from "./members.ts";
import type { RedisKeys } from "./keys.ts";
import type { KeyedRun } from "./redis_link.ts";
import { listLeaving } from "./redis_members_sweep.ts";
import { RedisScript } from "./redis_script.ts";
import MEMBERS_PRELUDE_LUA from "./lua/members_prelude.lua" with { type: "text" };
import MEMBERS_ENLIST_LUA from "./lua/members_enlist.lua" with { type: "text" };
import MEMBERS_SYNC_LUA from "./lua/members_sync.lua" with { type: "text" };
import MEMBERS_LIST_LUA from "./lua/members_list.lua" with { type: "text" };

const ENLIST_SCRIPT = new RedisScript(MEMBERS_ENLIST_LUA);

const SYNC_SCRIPT = new RedisScript(MEMBERS_PRELUDE_LUA, MEMBERS_SYNC_LUA);

const LIST_SCRIPT = new RedisScript(MEMBERS_LIST_LUA);

/** One user's change in one channel, rendered for the channel's script. */
export interface MemberWrite {
  /** Whether the user is in the channel on this node now. */
  readonly isIn: boolean;
  readonly user: string;
  /** Their `joined` frame, led by the mark that leaves the joining connection out; "" when
   * they are not in. */
  readonly joined: string;
  /** Their pending `left`: the JSON of `{"channel", "user", "frame"}`. */
  readonly left: string;
  /** Their info; "" for none. */
  readonly info: string;
}

/** Who writes, and how. */
export interface WriteOptions {
  readonly nodeId: string;
  /** See `RedisMembersOptions.kind`. */
  readonly kind: string;
  readonly leaveDelayMs: number;
  /** `PUBLISH`, or `SPUBLISH` on Redis Cluster. */
  readonly publishCommand: string;
}

/** Writes a node's changes of `channels` (channel → its changes), each in the channel's slot;
 * resolves to the users who joined the cluster in each, in order, or to null, writing nothing,
 * when the node is not live (it was reaped, or Redis lost its data): it writes all again once
 * it is. Each step can be done again after a failure: a change already written is not
 * written twice.
 *
 * The channels are listed as the node's (in the nodes' slot) before they are written, so that
 * whoever finds the node dead finds them, and only while the node is live. That check and the
 * channels' writes are not one step: were the node's liveness to expire between them, it would
 * write members for a dead node. A sweep then reaps them (they leave), and the node, finding
 * itself forgotten at its next heartbeat, writes them all again (they join again, or, within
 * `--leave-delay`, never left); should it die instead, right after, and a sweep have read its
 * list before its writes, those it wrote would stay members. */
export async function writeMembers(
  run: KeyedRun,
  keys: RedisKeys,
  { channels, options }: {
    channels: ReadonlyArray<readonly [string, readonly MemberWrite[]]>;
    options: WriteOptions;
  },
): Promise<string[][] | null> {
  const { nodeId, kind } = options;
  const mine = keys.memberChannels(nodeId, kind);
  const isLive = await ENLIST_SCRIPT.runOn(run, [keys.nodes, mine, keys.memberNodes(kind)], [
    nodeId,
    ...channels.map(([channel]) => channel),
  ]);
  if (isLive !== 1) return null;
  const answers = await Promise.all(
    channels.map(([channel, writes]) => syncChannel(run, keys, { channel, writes, options })),
  );
  await listLeaving(run, keys, {
    kind,
    dues: channels.map(([channel], i) => [channel, answers[i]![1]]),
  });
  // Only once its lefts are listed: a node that dies before still has the channel on its list,
  // and whoever reaps it lists them.
  const emptied = channels.filter((_, i) => answers[i]![2] === 0).map(([channel]) => channel);
  if (emptied.length > 0) await run(mine, (redis) => redis.sRem(mine, emptied));
  return answers.map(([joined]) => joined);
}

/** Runs one channel's script: resolves to the users who joined the cluster, when the
 * channel's first pending left is due (Redis time, ms; 0 for none), and whether the node has
 * members there (1) or not (0). */
function syncChannel(
  run: KeyedRun,
  keys: RedisKeys,
  { channel, writes, options }: {
    channel: string;
    writes: readonly MemberWrite[];
    options: WriteOptions;
  },
): Promise<[string[], number, number]> {
  const args: Array<string | number> = [
    options.publishCommand,
    keys.broadcastChannel(channel),
    options.leaveDelayMs,
  ];
  for (const { isIn, user, joined, left, info } of writes) {
    args.push(isIn ? "+" : "-", user, joined, left, info);
  }
  return SYNC_SCRIPT.runOn(run, [
    keys.members(channel),
    keys.nodeMembers(channel, options.nodeId),
    keys.leavingMembers(channel),
    keys.leftFrames(channel),
    keys.memberInfos(channel),
  ], args) as Promise<[string[], number, number]>;
}

/** The rosters of `channels`, each read in its channel's slot: at most `max` users each, and
 * their infos when `withInfo`. */
export async function listMembers(
  run: KeyedRun,
  keys: RedisKeys,
  { channels, max, withInfo }: { channels: readonly string[]; max: number; withInfo: boolean },
): Promise<Map<string, MemberRoster>> {
  const answers = await Promise.all(
    channels.map((channel) =>
      LIST_SCRIPT.runOn(run, [keys.members(channel), keys.memberInfos(channel)], [
        max,
        withInfo ? "1" : "0",
      ])
    ),
  ) as Array<[number, ...string[]]>;
  return new Map(channels.map((channel, i) => {
    const [count, ...listed] = answers[i]!;
    const n = Math.min(count, max);
    const users = listed.slice(0, n);
    const infos = withInfo ? listed.slice(n) : [];
    return [channel, { users, infos, count, isTruncated: count > n }];
  }));
}
