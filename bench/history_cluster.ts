/**
 * @module
 * The cluster half of the history part of `deno task bench` (`--only history-cluster`, and
 * `--history-only`): two nodes on their own `redis-server` with `--history-size 100`, against
 * two nodes on another `redis-server` with history off, started side by side in each run. With
 * history on, every broadcast is one Lua script in Redis (offset, XADD to the channel's
 * stream, PUBLISH). 1,000 subscribers of one channel, half on each node, broadcasts posted to
 * node a; server-side CPU is that of both nodes plus `redis-server`, as in `cluster.ts`. Logs
 * each side's `INFO commandstats` over the measured windows. Renders its table, verdicts and
 * notes as Markdown lines for the report; prints nothing but the progress lines it hands to
 * `log`.
 */

import type { ClusterOptions } from "./cluster.ts";
import { type Deployment, nodeCounts, startCluster } from "./cluster_setup.ts";
import {
  HISTORY_ARGS,
  HISTORY_COLUMNS,
  HISTORY_SIZE,
  HISTORY_SUBSCRIBERS,
  historyRunOrder,
  type HistorySide,
} from "./history.ts";
import type { FanoutResult } from "./ipc.ts";
import { hasCommand } from "./processes.ts";
import type { RedisProcess } from "./redis_process.ts";
import { formatNumber, median, Results, type RowSpec } from "./report.ts";
import {
  CHANNEL,
  fanoutWindow as deliverWindow,
  type Log,
  PRIMER_EXTRA_MS,
  SATURATED_CORE_SHARE,
} from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

const PROCESSES = ["node a", "node b", "redis-server"] as const;
/** Commands of `INFO commandstats` the notes show, when Redis ran them. */
const SHOWN_COMMANDS = ["evalsha", "xadd", "publish", "hgetall", "multi", "exec"] as const;

type Cluster = { cluster: Deployment; redis: RedisProcess };
type Context = { run: number; results: Results<HistorySide>; log: Log };

/** Runs the cluster history windows `runs` times and resolves to the report's lines; to a
 * single line saying why when `redis-server` is not installed. */
export async function measureHistoryCluster(
  options: ClusterOptions,
  { runs, log }: { runs: number; log: Log },
): Promise<string[]> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) {
    return [
      "History in cluster mode: skipped, `redis-server` and `redis-cli` are not both " +
      "installed.",
    ];
  }
  const results = new Results(HISTORY_COLUMNS);
  for (let run = 0; run < runs; run++) await historyClusterRun(run, options, { results, log });
  const { markdown, verdicts } = results.table(historyClusterRows(options.rate));
  return [
    `History in cluster mode: two nodes (a, b) on one redis-server started by the benchmark, ` +
    `with --history-size ${HISTORY_SIZE}, against two nodes on another with history off; ` +
    `${runs} runs, medians; ${formatNumber(HISTORY_SUBSCRIBERS, 0)} subscribers of one ` +
    "channel, half on each node; broadcasts posted to node a. Server-side CPU is that of both " +
    "nodes plus redis-server.",
    "",
    markdown,
    "",
    ...bounded(results),
    commandNotes(results),
    "",
    "Targets:",
    ...verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: history on / history off = ` +
      `${formatNumber(verdict.ratio, 2)} (target ≤ ${verdict.target.value.toFixed(2)})`
    ),
  ];
}

function historyClusterRows(rate: number): RowSpec[] {
  const atRate = `at ${formatNumber(rate, 0)} deliveries/s`;
  const subs = `cluster, ${formatNumber(HISTORY_SUBSCRIBERS, 0)} subscribers`;
  const cpu = (mode: "rate" | "saturate", where: string): RowSpec => ({
    key: `${mode}.cpu`,
    label: `server-side CPU per delivered msg ${where}, ${subs} (µs)`,
    digits: 2,
    target: { kind: "max-ratio", value: 1.1 },
  });
  const breakdown = (mode: "rate" | "saturate", where: string) =>
    PROCESSES.map((name): RowSpec => ({
      key: `${mode}.cpu.${name}`,
      label: `of which ${name}, ${where} (µs)`,
      digits: 3,
    }));
  return [
    cpu("rate", atRate),
    ...breakdown("rate", atRate),
    cpu("saturate", "at saturation"),
    ...breakdown("saturate", "at saturation"),
    { key: "rate.p99", label: `p99 latency ${atRate}, ${subs} (ms)`, digits: 2 },
    { key: "saturate.rate", label: `delivered msg/s at saturation, ${subs}`, digits: 0 },
  ];
}

/** Both clusters' windows for run `run`, the order alternating between runs. */
async function historyClusterRun(
  run: number,
  options: ClusterOptions,
  { results, log }: { results: Results<HistorySide>; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(HISTORY_SUBSCRIBERS));
  const sides = new Map<HistorySide, Cluster>();
  for (const side of historyRunOrder(run)) {
    const placement = { ...options, tokensUrl: tokens.url, args: HISTORY_ARGS[side] };
    const started = await startCluster(stack, placement);
    const { cluster } = started;
    const perNode = HISTORY_SUBSCRIBERS / cluster.nodes.length;
    for (const node of cluster.nodes) {
      await cluster.load.send({
        op: "connect",
        wsUrl: node.wsUrl,
        channel: CHANNEL,
        count: perNode,
      });
    }
    sides.set(side, started);
  }
  const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
  for (const { cluster } of sides.values()) await fanoutWindow(cluster, primer, "saturate");
  // Node b counts every broadcast Redis sends it: the broadcasts of the commandstats' span.
  const received = async () => {
    const counts = new Map<HistorySide, number>();
    for (const [side, { cluster }] of sides) {
      counts.set(side, (await nodeCounts(cluster.nodes[1]!)).broadcastsReceived);
    }
    return counts;
  };
  for (const { redis } of sides.values()) await redis.cli(["CONFIG", "RESETSTAT"]);
  const before = await received();
  const context = { run, results, log };
  for (const mode of ["rate", "saturate"] as const) {
    for (const [side, { cluster }] of sides) {
      record(context, { side, mode, result: await fanoutWindow(cluster, options, mode) });
    }
  }
  const after = await received();
  for (const [side, { redis }] of sides) {
    const broadcasts = after.get(side)! - before.get(side)!;
    await commandStats(context, { side, redis, broadcasts });
  }
}

function fanoutWindow(
  cluster: Deployment,
  options: ClusterOptions,
  mode: "rate" | "saturate",
): Promise<FanoutResult> {
  const { api: server, load, extraPids } = cluster;
  return deliverWindow(options, { server, load, mode, extraPids });
}

function record(
  { run, results, log }: Context,
  { side, mode, result }: { side: HistorySide; mode: "rate" | "saturate"; result: FanoutResult },
): void {
  const perProcess = [result.serverCpuSeconds, ...result.extraCpuSeconds ?? []];
  const cpu = perProcess.reduce((sum, seconds) => sum + seconds, 0);
  const perDelivery = (seconds: number) => seconds / result.deliveries * 1e6;
  const loadShare = result.loadCpuSeconds / result.seconds;
  results.add(side, `${mode}.cpu`, run, perDelivery(cpu));
  perProcess.forEach((seconds, i) =>
    results.add(side, `${mode}.cpu.${PROCESSES[i]}`, run, perDelivery(seconds))
  );
  results.add(side, `${mode}.rate`, run, result.deliveries / result.seconds);
  results.add(side, `${mode}.p99`, run, result.p99Ms);
  if (mode === "saturate" && loadShare >= SATURATED_CORE_SHARE) {
    results.markBounded(side, "saturate.rate");
  }
  const shares = perProcess.map((seconds, i) =>
    `${PROCESSES[i]} ${formatNumber(seconds / result.seconds * 100, 0)}%`
  );
  log(
    `run ${run + 1} ${side.padEnd(8)} cluster ${mode.padEnd(8)}: ` +
      `${formatNumber(result.deliveries / result.seconds, 0).padStart(7)} deliveries/s, ` +
      `p50 ${formatNumber(result.p50Ms, 2)} ms, p99 ${formatNumber(result.p99Ms, 2)} ms, ` +
      `${formatNumber(perDelivery(cpu), 2)} µs CPU each; cores: ${shares.join(", ")}, load ` +
      `${formatNumber(loadShare * 100, 0)}%` +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publishes failed` : ""),
  );
}

/** Records and logs `redis`'s `INFO commandstats` since the reset: per command, µs a call
 * (`usec_per_call`) and calls per broadcast. */
async function commandStats(
  { run, results, log }: Context,
  { side, redis, broadcasts }: { side: HistorySide; redis: RedisProcess; broadcasts: number },
): Promise<void> {
  const text = await redis.cli(["INFO", "commandstats"]);
  const stats = [
    ...text.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/gm),
  ]
    .map(([, name, calls, usec, perCall]) => ({
      name: name!,
      calls: Number(calls),
      usec: Number(usec),
      perCall: Number(perCall),
    }))
    .sort((x, y) => y.usec - x.usec);
  for (const { name, calls, perCall } of stats) {
    results.add(side, `redis.${name}.perCall`, run, perCall);
    results.add(side, `redis.${name}.perBroadcast`, run, calls / broadcasts);
  }
  log(
    `run ${run + 1} ${side.padEnd(8)} cluster redis commandstats over ` +
      `${formatNumber(broadcasts, 0)} broadcasts: ` +
      stats.slice(0, 6).map(({ name, calls, usec, perCall }) =>
        `${name} ${calls} calls, ${formatNumber(usec / 1000, 1)} ms, ${perCall} µs/call`
      ).join("; "),
  );
}

function commandNotes(results: Results<HistorySide>): string {
  const side = (kind: HistorySide) => {
    const shown = SHOWN_COMMANDS.flatMap((name) => {
      const perCall = median(results.values(kind, `redis.${name}.perCall`));
      if (Number.isNaN(perCall)) return [];
      const perBroadcast = median(results.values(kind, `redis.${name}.perBroadcast`));
      return [
        `${name} ${formatNumber(perCall, 2)} µs/call (${formatNumber(perBroadcast, 2)} a ` +
        "broadcast)",
      ];
    });
    return `${HISTORY_COLUMNS.labels[kind]}: ${shown.join(", ") || "none"}`;
  };
  return "Redis `INFO commandstats` over both measured windows and their warm-ups (medians of " +
    "the runs; calls a broadcast: ÷ the broadcasts node b received meanwhile): " +
    `${side("hist-on")}; ${side("hist-off")}. A ` +
    "script's own commands (xadd, publish, hgetall in it) are counted inside its evalsha time " +
    "too.";
}

function bounded(results: Results<HistorySide>): string[] {
  const isBounded = (["hist-on", "hist-off"] as const).some((side) =>
    results.boundedRuns(side, "saturate.rate") > 0
  );
  return isBounded
    ? [
      `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least ` +
      "one run: the figure is a lower bound.",
      "",
    ]
    : [];
}
