/**
 * @module
 * The members' sweep, which every node runs a few times per `--leave-delay`, one Redis Cluster
 * slot per script: it reaps the members of the nodes gone from the live nodes (their users go,
 * as if their connections had closed then), one channel at a time, and sends the due `left`s,
 * one channel at a time. The channels with pending lefts are listed in a sorted set of their
 * own (`RedisKeys.leavingChannels`), by when their first left is due or earlier: an index that
 * may list a channel with nothing due, never for long one with a left pending, since whoever
 * changes a channel's pending lefts lists it again once the channel's script ran.
 */

import type { RedisKeys } from "./keys.ts";
import type { KeyedRun } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";
import MEMBERS_PRELUDE_LUA from "./lua/members_prelude.lua" with { type: "text" };
import MEMBERS_DEAD_LUA from "./lua/members_dead.lua" with { type: "text" };
import MEMBERS_REAP_LUA from "./lua/members_reap.lua" with { type: "text" };
import MEMBERS_FORGET_LUA from "./lua/members_forget.lua" with { type: "text" };
import MEMBERS_DUE_LUA from "./lua/members_due.lua" with { type: "text" };
import MEMBERS_SEND_LUA from "./lua/members_send.lua" with { type: "text" };
import MEMBERS_RELIST_LUA from "./lua/members_relist.lua" with { type: "text" };

const DEAD_SCRIPT = new RedisScript(MEMBERS_DEAD_LUA);

const REAP_SCRIPT = new RedisScript(MEMBERS_PRELUDE_LUA, MEMBERS_REAP_LUA);

const FORGET_SCRIPT = new RedisScript(MEMBERS_FORGET_LUA);

const DUE_SCRIPT = new RedisScript(MEMBERS_PRELUDE_LUA, MEMBERS_DUE_LUA);

const SEND_SCRIPT = new RedisScript(MEMBERS_PRELUDE_LUA, MEMBERS_SEND_LUA);

const RELIST_SCRIPT = new RedisScript(MEMBERS_RELIST_LUA);

/** The most channels one sweep sends `left`s in; the rest wait for the next. */
const MAX_CHANNELS_PER_SWEEP = 100;

/** The most `left`s one sweep sends in one channel; the rest wait for the next. */
const MAX_LEFT_PER_CHANNEL = 1000;

/** What the sweep of one kind of members needs. */
export interface SweepOptions {
  /** See `RedisMembersOptions.kind`. */
  readonly kind: string;
  readonly leaveDelayMs: number;
  /** The command that publishes a `left`: `PUBLISH`, or `SPUBLISH` on Redis Cluster. */
  readonly publishCommand: string;
}

/** Lists the channels of `dues` (channel, when its first pending left is due in Redis time
 * (ms), 0 for none) among those with pending lefts, unless listed earlier. */
export async function listLeaving(
  run: KeyedRun,
  keys: RedisKeys,
  { kind, dues }: { kind: string; dues: ReadonlyArray<readonly [string, number]> },
): Promise<void> {
  const args = dues.flatMap(([channel, due]) => due > 0 ? [channel, "", due] : []);
  if (args.length > 0) await RELIST_SCRIPT.runOn(run, [keys.leavingChannels(kind)], args);
}

/** Reaps the members of every node with members that is gone from the live nodes; resolves
 * to the nodes it has forgotten. Idempotent: nodes sweeping at once reap each member once. */
export async function reapDeadNodes(
  run: KeyedRun,
  keys: RedisKeys,
  options: SweepOptions,
): Promise<string[]> {
  const dead = await DEAD_SCRIPT.runOn(run, [keys.memberNodes(options.kind), keys.nodes], []);
  const forgotten = await Promise.all(
    (dead as string[]).map((node) => reapNode(run, keys, { node, ...options })),
  );
  return (dead as string[]).filter((_, i) => forgotten[i]);
}

/** Reaps `node`'s members channel by channel, lists the channels with the lefts that makes,
 * then takes them off the node's list: a step that fails is done again at the next sweep.
 *
 * The node's list and each channel are in different slots, so this is not one step, and a
 * node back meanwhile can lose members to it: were its heartbeat, its membership's rewrite and
 * the rewrite of its members all to happen between the reading of the dead nodes and a
 * channel's reap here, that channel would reap members the node had just written back. Its
 * users there would leave while connected, until they join again. */
async function reapNode(
  run: KeyedRun,
  keys: RedisKeys,
  { node, kind, leaveDelayMs }: SweepOptions & { node: string },
): Promise<boolean> {
  const listed = keys.memberChannels(node, kind);
  const channels = await run(listed, (redis) => redis.sMembers(listed));
  const dues = await Promise.all(channels.map((channel) =>
    REAP_SCRIPT.runOn(run, [
      keys.members(channel),
      keys.nodeMembers(channel, node),
      keys.leavingMembers(channel),
      keys.leftFrames(channel),
    ], [leaveDelayMs])
  )) as number[];
  await listLeaving(run, keys, { kind, dues: channels.map((channel, i) => [channel, dues[i]!]) });
  const forgotten = await FORGET_SCRIPT.runOn(run, [
    keys.nodes,
    keys.memberChannels(node, kind),
    keys.memberNodes(kind),
  ], [node, ...channels]);
  return forgotten === 1;
}

/** Sends the due `left`s of the listed channels, and lists each again by its next one;
 * resolves to the `[channel, user]` of each left this node sent (another node sweeping at
 * once sends the others). A channel whose script failed stays listed as it was, for the next
 * sweep. */
export async function sendDueLefts(
  run: KeyedRun,
  keys: RedisKeys,
  { kind, publishCommand }: SweepOptions,
): Promise<Array<[channel: string, user: string]>> {
  const index = keys.leavingChannels(kind);
  const listed = await DUE_SCRIPT.runOn(run, [index], [MAX_CHANNELS_PER_SWEEP]) as string[];
  const due: Array<{ channel: string; score: string }> = [];
  for (let i = 0; i < listed.length; i += 2) {
    due.push({ channel: listed[i]!, score: listed[i + 1]! });
  }
  if (due.length === 0) return [];
  const answers = await Promise.allSettled(due.map(({ channel }) =>
    SEND_SCRIPT.runOn(run, [
      keys.members(channel),
      keys.leavingMembers(channel),
      keys.leftFrames(channel),
      keys.memberInfos(channel),
    ], [publishCommand, keys.broadcastChannel(channel), MAX_LEFT_PER_CHANNEL]) as Promise<
      [string[], number]
    >
  ));
  const sent: Array<[string, string]> = [];
  const relisted: Array<string | number> = [];
  due.forEach(({ channel, score }, i) => {
    const answer = answers[i]!;
    if (answer.status === "rejected") return;
    const [users, next] = answer.value;
    for (const user of users) sent.push([channel, user]);
    relisted.push(channel, score, next);
  });
  // A channel still listed with the score read goes, or waits for its next left; one listed
  // again meanwhile (a new left pending) stays.
  if (relisted.length > 0) await RELIST_SCRIPT.runOn(run, [index], relisted).catch(() => {});
  return sent;
}
