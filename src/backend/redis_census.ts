/**
 * @module
 * Reads the other live nodes in one script: which nodes are live by Redis's clock at that
 * instant, and each one's mirrored connections and last report. So an answer built from one
 * reading lists exactly the nodes whose connections it counts, whoever joins, leaves or dies
 * meanwhile. Knows the mirror's shape, not what the API makes of it.
 */

import { Metrics } from "../metrics.ts";
import type { RedisKeys } from "./keys.ts";
import { countersOf, type NodeReport } from "./membership.ts";
import type { RedisClient } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";
import CENSUS_LUA from "./lua/census.lua" with { type: "text" };

/** What a connection's mirror entry holds: its token (null while anonymous), channels, and
 * user (absent when its token names none). */
export type MirrorEntry = [token: string | null, channels: string[], user?: string];

/** Another node as one reading found it. */
export interface NodeReading {
  /** Its report: connections and channels as its mirror holds them at the reading, counters
   * as of its last heartbeat. */
  readonly report: NodeReport;
  /** Its open connections, one mirror entry each. */
  readonly entries: readonly MirrorEntry[];
}

const CENSUS_SCRIPT = new RedisScript(CENSUS_LUA);

/** Every live node but `nodeId`, read in one script. A live node without a report this
 * version can read is left out, its connections with it. */
export async function readOtherNodes(
  redis: RedisClient,
  keys: RedisKeys,
  nodeId: string,
): Promise<NodeReading[]> {
  const found = await CENSUS_SCRIPT.run(redis, [keys.nodes], [
    nodeId,
    ...around((node) => keys.nodeConnections(node)),
    ...around((node) => keys.nodeCounters(node)),
  ]) as Array<[id: string, entries: string[], report: string | null]>;
  return found.flatMap(([id, stored, report]) => {
    const entries = stored.map((entry) => JSON.parse(entry) as MirrorEntry);
    return readReport(id, report).map((read) => ({
      report: { ...read, ...figuresOf(entries) },
      entries,
    }));
  });
}

/** A node's stored report as a one-item list, or an empty one when it is missing or not a
 * report of this version's shape. The id is the one it is stored under. */
export function readReport(id: string, stored: string | null): NodeReport[] {
  if (stored === null) return [];
  let report: Partial<NodeReport>;
  try {
    report = JSON.parse(stored);
  } catch {
    return [];
  }
  const { connections, channels } = report;
  if (typeof connections?.anonymous !== "number" || typeof channels !== "number") return [];
  return [{ ...countersOf(new Metrics(0)), ...report, id } as NodeReport];
}

/** The connections and channels of a node whose mirror holds `entries`. */
function figuresOf(entries: readonly MirrorEntry[]): Pick<NodeReport, "connections" | "channels"> {
  const channels = new Set<string>();
  let anonymous = 0;
  for (const [token, joined] of entries) {
    if (token === null) anonymous++;
    for (const channel of joined) channels.add(channel);
  }
  return {
    connections: { anonymous, authenticated: entries.length - anonymous },
    channels: channels.size,
  };
}

/** The text before and after the node's id in `key(node)`, for the script to build it. */
function around(key: (node: string) => string): [before: string, after: string] {
  const [before, after] = key("\n").split("\n");
  return [before!, after!];
}
