/**
 * @module
 * The Redis Cluster part of `deno task bench` (`--only redis-cluster`): Boreas nodes on the
 * benchmark's own Redis Cluster (masters only, `redis_cluster_setup.ts`), started side by side
 * in each run. First, two nodes on a 3-master cluster against two nodes on one Redis: the
 * cluster part's one-channel windows (1,000 subscribers, paced and saturated) and its
 * many-rooms window, with the CPU time of the Boreas nodes alone per delivered message. Then
 * one node on a 1-master cluster against one node on a 3-master cluster: broadcasts to the
 * rooms at saturation, as broadcasts a second. Resolves to the report's lines.
 */

import { type ClusterOptions, connect, fanoutWindow, ROOMS, ROOMS_INFLIGHT } from "./cluster.ts";
import { type Backend, type Deployment, redisBackend, startNodes } from "./cluster_setup.ts";
import type { FanoutResult } from "./ipc.ts";
import { cpuSeconds } from "./proc.ts";
import { hasCommand } from "./processes.ts";
import { RedisClusterProcess } from "./redis_cluster_setup.ts";
import { RedisProcess } from "./redis_process.ts";
import { type Columns, formatNumber, Results, type RowSpec } from "./report.ts";
import { CHANNEL, PRIMER_EXTRA_MS } from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

/** The two stores of the overhead comparison, and of the throughput one. */
type Store = "cluster" | "redis";
type Shards = "three" | "one";

const STORE_COLUMNS: Columns<Store> = {
  subject: "cluster",
  reference: "redis",
  labels: { cluster: "3-master cluster", redis: "one Redis" },
};
const SHARD_COLUMNS: Columns<Shards> = {
  subject: "three",
  reference: "one",
  labels: { three: "3 shards", one: "1 shard" },
};

type Log = (line: string) => void;
type Context = { run: number; options: ClusterOptions; log: Log };
/** One side of a comparison: its name in the results, and its deployment. */
type Side<Name extends string> = { name: Name; deployment: Deployment };

/** How long both sides' CPU time is read while idle, in milliseconds. */
const IDLE_MS = 10_000;

const ROOM_NAMES = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);

/** The overhead table's rows: the target of issue 19 on the Boreas nodes' CPU time. */
function storeRows(
  { rate, clusterSubscribers }: Pick<ClusterOptions, "rate" | "clusterSubscribers">,
): RowSpec[] {
  const one = `one channel, ${formatNumber(clusterSubscribers, 0)} subscribers`;
  const rooms = `${formatNumber(ROOMS, 0)} rooms × 2 subscribers`;
  const target = { kind: "max-ratio", value: 1.1 } as const;
  return [
    {
      key: "one.rate.cpu",
      label: `Boreas nodes' CPU per delivered msg at ${formatNumber(rate, 0)} deliveries/s, ` +
        `${one} (µs)`,
      digits: 2,
      target,
    },
    {
      key: "one.saturate.cpu",
      label: `Boreas nodes' CPU per delivered msg at saturation, ${one} (µs)`,
      digits: 2,
      target,
    },
    { key: "one.saturate.rate", label: `delivered msg/s at saturation, ${one}`, digits: 0 },
    {
      key: "one.saturate.redis",
      label: "Redis CPU per delivered msg, same window (µs)",
      digits: 2,
    },
    {
      key: "rooms.cpu",
      label: `Boreas nodes' CPU per delivered msg at saturation, ${rooms} (µs)`,
      digits: 2,
      target,
    },
    { key: "rooms.rate", label: `delivered msg/s at saturation, ${rooms}`, digits: 0 },
    { key: "rooms.redis", label: "Redis CPU per delivered msg, same window (µs)", digits: 2 },
    { key: "rooms.p99", label: `p99 latency at saturation, ${rooms} (ms)`, digits: 2 },
    { key: "idle.nodes", label: "Boreas nodes' CPU while idle (ms/s)", digits: 1 },
    { key: "idle.redis", label: "Redis CPU while idle (ms/s)", digits: 1 },
  ];
}

const SHARD_ROWS: RowSpec[] = [
  {
    key: "rooms.broadcasts",
    label: `broadcasts/s at saturation, one node, ${formatNumber(ROOMS, 0)} rooms × 2 subscribers`,
    digits: 0,
  },
  { key: "rooms.cpu", label: "the node's CPU per delivered msg (µs)", digits: 2 },
  { key: "rooms.redis", label: "Redis CPU per delivered msg, all masters (µs)", digits: 2 },
  { key: "rooms.p99", label: "p99 latency (ms)", digits: 2 },
];

/** Runs both comparisons `runs` times; resolves to the report's lines, or to a single line
 * saying why when `redis-server` or `redis-cli` is missing. */
export async function measureRedisCluster(
  options: ClusterOptions,
  { runs, log }: { runs: number; log: Log },
): Promise<string[]> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) {
    return ["Redis Cluster: skipped, `redis-server` and `redis-cli` are not both installed."];
  }
  const stores = new Results(STORE_COLUMNS);
  const shards = new Results(SHARD_COLUMNS);
  for (let run = 0; run < runs; run++) {
    await storeRun({ run, options, log }, stores);
    await shardRun({ run, options, log }, shards);
  }
  const overhead = stores.table(storeRows(options));
  return [
    `Redis Cluster: two nodes (a, b) on a 3-master Redis Cluster (no replicas, sharded pub/sub) ` +
    `against two nodes on one Redis, both started by the benchmark; ${runs} runs, medians; ` +
    "broadcasts posted to node a. CPU is that of both Boreas nodes (Redis's apart).",
    "",
    overhead.markdown,
    "",
    "Targets:",
    ...overhead.verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: cluster / one Redis = ` +
      `${formatNumber(verdict.ratio, 2)} (target ≤ 1.10)`
    ),
    "",
    "One node on a 1-master Redis Cluster against one node on a 3-master one: broadcasts " +
    `to ${ROOMS} rooms in turn, ${ROOMS_INFLIGHT} in flight.`,
    "",
    shards.table(SHARD_ROWS).markdown,
  ];
}

/** Two nodes on a 3-master cluster against two on one Redis: one channel, then the rooms. */
async function storeRun(context: Context, results: Results<Store>): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const { serverPlacement } = context.options;
  const tokens = stack.use(TokenServer.start(ROOMS * 2));
  const redis = stack.use(await RedisProcess.start(serverPlacement));
  const cluster = stack.use(await RedisClusterProcess.start(serverPlacement, 3));
  const start = (backend: Backend) =>
    startNodes(stack, { ...context.options, tokensUrl: tokens.url, backend, args: [] });
  const both: Side<Store>[] = [
    { name: "cluster", deployment: await start(clusterBackend(cluster)) },
    { name: "redis", deployment: await start(redisBackend(redis)) },
  ];
  const sides = context.run % 2 === 0 ? both : both.toReversed();
  await idleWindow(context, { results, sides });
  const { options } = context;
  for (const { deployment } of sides) {
    await connect(deployment, { count: options.clusterSubscribers, channels: () => [CHANNEL] });
    const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
    await fanoutWindow(deployment, { options: primer, mode: "saturate" });
  }
  for (const mode of ["rate", "saturate"] as const) {
    for (const side of sides) {
      const result = await fanoutWindow(side.deployment, { options, mode });
      record(context, { results, side, key: `one.${mode}`, result });
    }
  }
  for (const { deployment } of sides) await deployment.load.send({ op: "disconnect" });
  await roomsWindows(context, { results, sides });
}

/** Both sides' CPU time with no subscribers and no broadcasts, over the same `IDLE_MS`: what
 * the nodes and Redis spend a second on their own (pings, slot maps, the cluster bus). */
async function idleWindow(
  { run, log }: Context,
  { results, sides }: { results: Results<Store>; sides: readonly Side<Store>[] },
): Promise<void> {
  const pids = sides.map(({ deployment }) => [deployment.api.pid, ...deployment.extraPids]);
  const before = await Promise.all(pids.map(cpuSeconds));
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const after = await Promise.all(pids.map(cpuSeconds));
  sides.forEach(({ name, deployment }, s) => {
    const used = after[s]!.map((seconds, i) => (seconds - before[s]![i]!) / IDLE_MS * 1e6);
    const nodes = deployment.nodes.length;
    results.add(name, "idle.nodes", run, sum(used.slice(0, nodes)));
    results.add(name, "idle.redis", run, sum(used.slice(nodes)));
    log(
      `run ${run + 1} ${name.padEnd(7)} idle: ${
        used.map((ms, i) => `${deployment.names[i]} ${formatNumber(ms, 1)} ms/s`).join(", ")
      }`,
    );
  });
}

/** One node on a 1-master cluster against one on a 3-master cluster: the rooms. */
async function shardRun(context: Context, results: Results<Shards>): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const { serverPlacement } = context.options;
  const tokens = stack.use(TokenServer.start(ROOMS * 2));
  const start = async (masters: number) => {
    const cluster = stack.use(await RedisClusterProcess.start(serverPlacement, masters));
    return await startNodes(stack, {
      ...context.options,
      tokensUrl: tokens.url,
      backend: clusterBackend(cluster),
      args: [],
      ids: ["a"],
    });
  };
  const both: Side<Shards>[] = [
    { name: "one", deployment: await start(1) },
    { name: "three", deployment: await start(3) },
  ];
  await roomsWindows(context, {
    results,
    sides: context.run % 2 === 0 ? both : both.toReversed(),
  });
}

/** Connects both subscribers of every room to each side (whole rooms to each node), then
 * broadcasts to the rooms in turn at saturation on each side. */
async function roomsWindows<Name extends string>(
  context: Context,
  { results, sides }: { results: Results<Name>; sides: readonly Side<Name>[] },
): Promise<void> {
  for (const { deployment } of sides) {
    const count = deployment.nodes.length;
    await connect(deployment, {
      count: ROOMS * 2,
      channels: (node) => ROOM_NAMES.filter((_, i) => i % count === node),
    });
  }
  for (const side of sides) {
    const result = await fanoutWindow(side.deployment, {
      options: { ...context.options, inflight: ROOMS_INFLIGHT },
      mode: "saturate",
      channels: ROOM_NAMES,
      recipients: 2,
    });
    record(context, { results, side, key: "rooms", result });
  }
  for (const { deployment } of sides) await deployment.load.send({ op: "disconnect" });
}

/** `cluster`, as a `Backend`. */
function clusterBackend(cluster: RedisClusterProcess): Backend {
  return {
    args: cluster.nodeArgs,
    pids: cluster.pids,
    names: cluster.pids.map((_, i) => `redis master ${i + 1}`),
  };
}

/** Records one window: CPU per delivered message of the Boreas nodes and of Redis, apart;
 * for the rooms (2 subscribers each), broadcasts a second too. */
function record<Name extends string>(
  { run, log }: Context,
  { results, side, key, result }: {
    results: Results<Name>;
    side: Side<Name>;
    key: string;
    result: FanoutResult;
  },
): void {
  const { deployment } = side;
  const perProcess = [result.serverCpuSeconds, ...result.extraCpuSeconds ?? []];
  const boreas = sum(perProcess.slice(0, deployment.nodes.length));
  const redis = sum(perProcess.slice(deployment.nodes.length));
  const at = (name: string, value: number) => results.add(side.name, `${key}.${name}`, run, value);
  at("cpu", boreas / result.deliveries * 1e6);
  at("redis", redis / result.deliveries * 1e6);
  at("rate", result.deliveries / result.seconds);
  at("p99", result.p99Ms);
  if (key === "rooms") at("broadcasts", result.deliveries / 2 / result.seconds);
  const shares = perProcess.map((seconds, i) =>
    `${deployment.names[i]} ${formatNumber(seconds / result.seconds * 100, 0)}%`
  );
  log(
    `run ${run + 1} ${side.name.padEnd(7)} ${key.padEnd(12)}: ` +
      `${formatNumber(result.deliveries / result.seconds, 0).padStart(7)} deliveries/s, ` +
      `p99 ${formatNumber(result.p99Ms, 2)} ms, Boreas ` +
      `${formatNumber(boreas / result.deliveries * 1e6, 2)} µs CPU each; cores: ` +
      `${shares.join(", ")}, load ${
        formatNumber(result.loadCpuSeconds / result.seconds * 100, 0)
      }%` +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publishes failed` : ""),
  );
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
