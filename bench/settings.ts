/**
 * @module
 * `deno task bench`'s command line: its help text, and the settings its options come to (which
 * parts to measure, how many runs, each part's sizes and windows). Pure.
 */

import { parseArgs } from "node:util";
import { numberReader, WINDOW_OPTIONS } from "./args.ts";
import type { ChatOptions } from "./chat.ts";
import type { BenchOptions } from "./scenarios.ts";

/** What `--help` prints. */
export const HELP = `Usage: deno task bench [options]

  --quick                  3 short runs, one idle-RSS run: under two minutes
  --subscribers LIST       subscriber counts, comma-separated (default 100,1000)
  --idle-connections N     idle authenticated connections for the RSS figure (default 10000;
                           0 skips it)
  --runs N                 fan-out and HTTP runs; medians are reported (default 6, quick 3)
  --idle-runs N            idle-RSS runs (default 3, quick 1)
  --duration SECONDS       length of each measured window (default 5, quick 1.5)
  --warmup SECONDS         publishing before each window (default 1, quick 0.5)
  --rate N                 deliveries a second in the fixed-rate windows (default 20000)
  --inflight N             broadcasts outstanding at saturation (default 4)
  --http-seconds N         length of the POST /broadcast/ load (default 5, quick 2; 0 skips)
  --only LIST              measure only some of fanout, http, idle, cluster, history,
                           history-cluster, auth, pusher, chat, chat-cluster, redis-cluster,
                           pubsub-shards, cluster-floor (comma-separated); cluster-floor is
                           measured only when named: two nodes against standalone for Boreas
                           and for the baseline server in one run (the baseline's nodes share
                           broadcasts through Redis over plain sockets)
  --cluster-only           the same as --only cluster: two nodes on the benchmark's own
                           redis-server against standalone Boreas
  --history-only           the same as --only history,history-cluster: --history-size 100
                           against history off (standalone: fan-out at 1,000 subscribers,
                           POST /broadcast/, memory per kept message, --idle-runs memory
                           runs; cluster: two nodes on the benchmark's own redis-server,
                           fan-out at 1,000 subscribers)
  --auth-only              the same as --only auth: a reconnect storm of 2,000 connections
                           with opaque tokens, JWT HS256 and JWT ES256, then the fan-out at
                           1,000 subscribers with grants and webhooks on against off
  --pusher-only            the same as --only pusher: Pusher subscribers (a public channel,
                           signed POST /apps/{id}/events) against native ones, each on its
                           own Boreas: fan-out at each --subscribers count, and RSS per
                           idle subscriber (--idle-connections, --idle-runs)
  --chat-only              the same as --only chat,chat-cluster: chat rooms of 3 subscribers,
                           each message to a random room: HTTP broadcasts against the
                           baseline, and client publications against HTTP broadcasts,
                           standalone (chat) and on two nodes on the benchmark's own
                           redis-server (chat-cluster)
  --redis-cluster-only     the same as --only redis-cluster,pubsub-shards: two nodes on a
                           3-master Redis Cluster against two on one Redis, and one node on a
                           1-master cluster against one on a 3-master cluster (redis-cluster);
                           Redis CPU per publish, PUBLISH against SPUBLISH, raw clients on a
                           3-master cluster (pubsub-shards); each cluster the benchmark's own
  --cluster-subscribers N  subscribers of the one channel in the cluster, redis-cluster and
                           cluster-floor parts, split evenly across the nodes (default 1000)
  --rooms N                rooms of the chat part (default 2000)
  --chat-rate N            deliveries a second in the chat part's paced windows (default 6000)
  --chat-inflight N        chat messages whose deliveries are outstanding at saturation
                           (default 32)
  --chat-ack MODE          reply: client publications carry a ref and await its reply
                           (default); none: no ref, and no reply
  --no-pin                 do not pin processes to cores with taskset
  --cpu-prof DIR           instead of measuring, profile Boreas twice: under the saturated
                           fan-out with the most subscribers, and under the POST /broadcast/
                           load (with --chat-only: Boreas, then the baseline, under saturated
                           chat HTTP broadcasts, then client publications); write the
                           .cpuprofile files under DIR and list their top functions
  -h, --help               show this help`;

/** The parts `--only` may name, in the order they run. */
export const SCENARIOS = [
  "fanout",
  "http",
  "idle",
  "cluster",
  "history",
  "history-cluster",
  "auth",
  "pusher",
  "chat",
  "chat-cluster",
  "redis-cluster",
  "pubsub-shards",
  "cluster-floor",
] as const;

/** What each `--…-only` flag stands for. */
const SHORTHANDS = {
  "cluster-only": "cluster",
  "history-only": "history,history-cluster",
  "auth-only": "auth",
  "pusher-only": "pusher",
  "chat-only": "chat,chat-cluster",
  "redis-cluster-only": "redis-cluster,pubsub-shards",
} as const;

/** The options every part is given: the fan-out's, and the cluster parts' channel size. */
export type PartOptions = BenchOptions & {
  /** Subscribers of the cluster parts' one channel, split evenly across the nodes. */
  readonly clusterSubscribers: number;
};

/** What the command line asks for. */
export interface Settings {
  readonly mode: "quick" | "full";
  readonly runs: number;
  readonly idleRuns: number;
  readonly cpuProfDir: string | undefined;
  readonly isPinned: boolean;
  readonly hasCluster: boolean;
  readonly hasHistory: boolean;
  readonly hasHistoryCluster: boolean;
  readonly hasAuth: boolean;
  readonly hasPusher: boolean;
  readonly hasChat: boolean;
  readonly hasChatCluster: boolean;
  readonly hasRedisCluster: boolean;
  readonly hasPubsubShards: boolean;
  readonly hasClusterFloor: boolean;
  /** `--subscribers` and `--idle-connections`, whether or not `fanout` and `idle` are
   * measured: the Pusher part's. */
  readonly pusherSubscribers: readonly number[];
  readonly pusherIdleConnections: number;
  /** `--http-seconds`, whether or not `http` is measured: the history part's HTTP load. */
  readonly httpSeconds: number;
  readonly options: Omit<PartOptions, "serverPlacement" | "loadPlacement">;
  readonly chat: Omit<ChatOptions, "serverPlacement" | "loadPlacement">;
}

/** The settings `args` ask for, or `help`; throws a `RangeError` naming a bad option. */
export function parseSettings(args: string[]): Settings | "help" {
  const { values } = parseArgs({
    args,
    options: {
      ...WINDOW_OPTIONS,
      "http-seconds": { type: "string" },
      only: { type: "string" },
      ...Object.fromEntries(
        Object.keys(SHORTHANDS).map((flag) => [flag, { type: "boolean" } as const]),
      ),
      "cluster-subscribers": { type: "string" },
      rooms: { type: "string" },
      "chat-rate": { type: "string" },
      "chat-inflight": { type: "string" },
      "chat-ack": { type: "string" },
      "cpu-prof": { type: "string" },
    },
  });
  if (values.help) return "help";
  const isQuick = values.quick === true;
  const number = numberReader(values);
  const subscribers = (values.subscribers ?? "100,1000").split(",").map(Number);
  if (subscribers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`--subscribers: expected counts ≥ 1, got "${values.subscribers}"`);
  }
  const only = onlyScenarios(values);
  const options = {
    rate: number("rate", 20_000, 20_000),
    warmupMs: number("warmup", 0.5, 1) * 1000,
    durationMs: number("duration", 1.5, 5) * 1000,
  };
  return {
    mode: isQuick ? "quick" : "full",
    runs: Math.max(1, number("runs", 3, 6)),
    idleRuns: number("idle-runs", 1, 3),
    cpuProfDir: values["cpu-prof"],
    isPinned: values["no-pin"] !== true,
    hasCluster: only.has("cluster"),
    hasHistory: only.has("history"),
    hasHistoryCluster: only.has("history-cluster"),
    hasAuth: only.has("auth"),
    hasPusher: only.has("pusher"),
    hasChat: only.has("chat"),
    hasChatCluster: only.has("chat-cluster"),
    hasRedisCluster: only.has("redis-cluster"),
    hasPubsubShards: only.has("pubsub-shards"),
    hasClusterFloor: only.has("cluster-floor"),
    httpSeconds: number("http-seconds", 2, 5),
    pusherSubscribers: [...new Set(subscribers)].sort((a, b) => a - b),
    pusherIdleConnections: number("idle-connections", 10_000, 10_000),
    options: {
      ...options,
      subscribers: only.has("fanout") ? [...new Set(subscribers)].sort((a, b) => a - b) : [],
      inflight: Math.max(1, number("inflight", 4, 4)),
      idleConnections: only.has("idle") ? number("idle-connections", 10_000, 10_000) : 0,
      httpSeconds: only.has("http") ? number("http-seconds", 2, 5) : 0,
      clusterSubscribers: clusterSubscribers(values),
    },
    chat: { ...options, ...chatSettings(values) },
  };
}

/** The parts to measure: `--…-only`, else `--only`, else all. */
function onlyScenarios(values: Record<string, unknown>): Set<string> {
  const shorthand = Object.entries(SHORTHANDS).find(([flag]) => values[flag] === true)?.[1];
  const list = shorthand ?? (values.only as string | undefined) ??
    SCENARIOS.filter((name) => name !== "cluster-floor").join(",");
  const only = new Set(list.split(","));
  const unknown = [...only].filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new RangeError(`--only: expected some of ${SCENARIOS.join(", ")}, got "${unknown}"`);
  }
  return only;
}

/** `--cluster-subscribers`: an even count ≥ 2, so that both nodes get the same share. */
function clusterSubscribers(values: Record<string, string | boolean | undefined>): number {
  const count = numberReader(values)("cluster-subscribers", 1_000, 1_000);
  if (!Number.isInteger(count) || count < 2 || count % 2 !== 0) {
    throw new RangeError(
      `--cluster-subscribers: expected an even whole number ≥ 2, got "${
        values["cluster-subscribers"]
      }"`,
    );
  }
  return count;
}

/** The chat part's own options; its `rate` is `--chat-rate`. */
function chatSettings(
  values: Record<string, string | boolean | undefined>,
): Pick<ChatOptions, "rooms" | "rate" | "inflight" | "withRef"> {
  const number = numberReader(values);
  const rooms = number("rooms", 2_000, 2_000);
  if (!Number.isInteger(rooms) || rooms < 1) {
    throw new RangeError(`--rooms: expected a whole number ≥ 1, got "${values.rooms}"`);
  }
  const ack = values["chat-ack"] ?? "reply";
  if (ack !== "reply" && ack !== "none") {
    throw new RangeError(`--chat-ack: expected reply or none, got "${ack}"`);
  }
  return {
    rooms,
    rate: number("chat-rate", 6_000, 6_000),
    inflight: Math.max(1, number("chat-inflight", 32, 32)),
    withRef: ack === "reply",
  };
}
