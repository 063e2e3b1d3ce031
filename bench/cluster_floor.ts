/**
 * @module
 * The cluster floor part of `deno task bench` (`--only cluster-floor`): how much of what a
 * cluster costs any Deno server would pay. In each run, four sides side by side, each with its
 * own load generator: standalone Boreas; two Boreas nodes on a `redis-server`; the baseline
 * server; and two baseline nodes on a `redis-server` of their own (`baseline_server.ts
 * --redis-url`: the least a node can do to share a broadcast through Redis, over plain
 * `Deno.connect` sockets). The cluster part's windows: the one channel
 * (`--cluster-subscribers`, split across the nodes) paced and at saturation, then 5,000 rooms ×
 * 2 subscribers at saturation, broadcasts posted to node a. Server-side CPU per delivered
 * message counts every node and Redis. Reports cluster / standalone for Boreas and for the
 * baseline in the same run, then Boreas's ratio over the baseline's: the part of the cluster's
 * cost the floor does not explain. Resolves to the report's lines.
 */

import { type ClusterOptions, connect, fanoutWindow, ROOMS, ROOMS_INFLIGHT } from "./cluster.ts";
import type { Side } from "./cluster_report.ts";
import { type Deployment, standaloneSide, startDeployments, startLoad } from "./cluster_setup.ts";
import type { FanoutResult } from "./ipc.ts";
import { hasCommand, type ServerKind, ServerProcess } from "./processes.ts";
import { RedisProcess } from "./redis_process.ts";
import { type Columns, formatNumber, Results, type RowSpec, SERVER_COLUMNS } from "./report.ts";
import { CHANNEL, PRIMER_EXTRA_MS } from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

type Log = (line: string) => void;

/** One of the four sides: which server, deployed how. */
interface FloorSide {
  readonly kind: ServerKind;
  readonly deployment: Deployment;
}

const SIDE_COLUMNS: Columns<Side> = {
  subject: "cluster",
  reference: "standalone",
  labels: { cluster: "two nodes + Redis", standalone: "standalone" },
};

/** The windows, by the key their figures are recorded under. */
const WINDOWS = ["one.rate", "one.saturate", "rooms"] as const;
type Window = typeof WINDOWS[number];

const ROOM_NAMES = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);

/** Runs the four sides `runs` times; resolves to the report's lines, or to one line saying
 * why it was skipped. */
export async function measureClusterFloor(
  options: ClusterOptions,
  { runs, log }: { runs: number; log: Log },
): Promise<string[]> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) {
    return ["Cluster floor: skipped, `redis-server` and `redis-cli` are not both installed."];
  }
  const bySide = new Results<Side>(SIDE_COLUMNS);
  for (let run = 0; run < runs; run++) await floorRun(run, options, { results: bySide, log });
  const byServer = new Results<ServerKind>(SERVER_COLUMNS);
  for (const kind of ["boreas", "baseline"] as const) {
    for (const window of WINDOWS) {
      const key = `${kind}.${window}.cpu`;
      bySide.ratios(key).forEach((ratio, run) => byServer.add(kind, `${window}.ratio`, run, ratio));
    }
  }
  const sides = bySide.table(sideRows(options));
  const floor = byServer.table(floorRows(options));
  return [
    `Cluster floor: each side its own processes and load generator, ${runs} runs, medians; ` +
    "broadcasts posted to node a; server-side CPU is that of every node plus its redis-server. " +
    "The baseline's nodes share broadcasts through Redis over plain sockets " +
    "(`baseline_server.ts --redis-url`).",
    "",
    sides.markdown,
    "",
    "Cluster / standalone, Boreas against the baseline (each ratio taken within a run):",
    "",
    floor.markdown,
    "",
    "Targets:",
    ...sides.verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: two nodes / standalone = ` +
      formatNumber(verdict.ratio, 2)
    ),
  ];
}

function windowLabel(window: Window, { rate, clusterSubscribers }: ClusterOptions): string {
  const one = `one channel, ${formatNumber(clusterSubscribers, 0)} subscribers`;
  switch (window) {
    case "one.rate":
      return `${one}, ${formatNumber(rate, 0)} deliveries/s`;
    case "one.saturate":
      return `${one}, saturation`;
    case "rooms":
      return `${formatNumber(ROOMS, 0)} rooms × 2 subscribers, saturation`;
  }
}

function sideRows(options: ClusterOptions): RowSpec[] {
  return (["boreas", "baseline"] as const).flatMap((kind) =>
    WINDOWS.flatMap((window): RowSpec[] => [
      {
        key: `${kind}.${window}.cpu`,
        label: `${kind}: server-side CPU per delivered msg, ${windowLabel(window, options)} (µs)`,
        digits: 2,
        ...kind === "boreas" ? { target: { kind: "max-ratio", value: 1.25 } as const } : {},
      },
      ...["node a", "node b", "redis-server"].map((name) => ({
        key: `${kind}.${window}.cpu.${name}`,
        label: `of which ${name} (µs)`,
        digits: 2,
      })),
    ])
  );
}

function floorRows(options: ClusterOptions): RowSpec[] {
  return WINDOWS.map((window) => ({
    key: `${window}.ratio`,
    label: `cluster / standalone, ${windowLabel(window, options)}`,
    digits: 2,
  }));
}

/** One run: starts the four sides, then measures each window on each, in an order that
 * rotates from run to run. */
async function floorRun(
  run: number,
  options: ClusterOptions,
  { results, log }: { results: Results<Side>; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(ROOMS * 2));
  const placement = { ...options, tokensUrl: tokens.url };
  const boreas = await startDeployments(stack, placement);
  const baseline = await startBaselineDeployments(stack, placement);
  const all: FloorSide[] = [
    { kind: "boreas", deployment: boreas.standalone },
    { kind: "boreas", deployment: boreas.cluster },
    { kind: "baseline", deployment: baseline.standalone },
    { kind: "baseline", deployment: baseline.cluster },
  ];
  const sides = [...all.slice(run % all.length), ...all.slice(0, run % all.length)];
  const record = (side: FloorSide, window: Window, result: FanoutResult) =>
    recordWindow({ run, results, log }, { side, window, result });
  for (const side of sides) {
    const { deployment } = side;
    await connect(deployment, { count: options.clusterSubscribers, channels: () => [CHANNEL] });
    const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
    await fanoutWindow(deployment, { options: primer, mode: "saturate" });
    for (const mode of ["rate", "saturate"] as const) {
      record(side, `one.${mode}`, await fanoutWindow(deployment, { options, mode }));
    }
    await deployment.load.send({ op: "disconnect" });
  }
  for (const side of sides) {
    const { deployment } = side;
    // Whole rooms on each node (node k of n: the rooms i with i % n = k), as in the cluster
    // part, so that publishing to the rooms in turn alternates between the nodes.
    const count = deployment.nodes.length;
    await connect(deployment, {
      count: ROOMS * 2,
      channels: (node) => ROOM_NAMES.filter((_, i) => i % count === node),
    });
    record(
      side,
      "rooms",
      await fanoutWindow(deployment, {
        options: { ...options, inflight: ROOMS_INFLIGHT },
        mode: "saturate",
        channels: ROOM_NAMES,
        recipients: 2,
      }),
    );
    await deployment.load.send({ op: "disconnect" });
  }
}

/** The baseline's two sides: one server, and two nodes on a Redis of their own. */
async function startBaselineDeployments(
  stack: AsyncDisposableStack,
  placement: ClusterOptions & { tokensUrl: string },
): Promise<{ standalone: Deployment; cluster: Deployment }> {
  const start = (baselineArgs: readonly string[]) =>
    ServerProcess.start("baseline", {
      ...placement.serverPlacement,
      tokensUrl: placement.tokensUrl,
      baselineArgs,
    });
  const redis = stack.use(await RedisProcess.start(placement.serverPlacement));
  const standalone = stack.use(await start([]));
  const nodes = [
    stack.use(await start(["--redis-url", redis.url])),
    stack.use(await start(["--redis-url", redis.url])),
  ];
  return {
    standalone: await standaloneSide(stack, standalone, placement),
    cluster: {
      side: "cluster",
      api: nodes[0]!,
      nodes,
      extraPids: [nodes[1]!.pid, redis.pid],
      names: ["node a", "node b", "redis-server"],
      load: await startLoad(stack, placement),
    },
  };
}

function recordWindow(
  { run, results, log }: { run: number; results: Results<Side>; log: Log },
  { side, window, result }: { side: FloorSide; window: Window; result: FanoutResult },
): void {
  const { kind, deployment } = side;
  const perProcess = [result.serverCpuSeconds, ...result.extraCpuSeconds ?? []];
  const cpu = perProcess.reduce((sum, seconds) => sum + seconds, 0);
  const perDelivery = (seconds: number) => seconds / result.deliveries * 1e6;
  results.add(deployment.side, `${kind}.${window}.cpu`, run, perDelivery(cpu));
  if (deployment.side === "cluster") {
    perProcess.forEach((seconds, i) =>
      results.add(
        "cluster",
        `${kind}.${window}.cpu.${deployment.names[i]}`,
        run,
        perDelivery(seconds),
      )
    );
  }
  const shares = perProcess.map((seconds, i) =>
    `${deployment.names[i]} ${formatNumber(seconds / result.seconds * 100, 0)}%`
  );
  log(
    `run ${run + 1} ${kind} ${deployment.side.padEnd(10)} ${window.padEnd(12)}: ` +
      `${formatNumber(result.deliveries / result.seconds, 0).padStart(7)} deliveries/s, ` +
      `${formatNumber(perDelivery(cpu), 2)} µs CPU each; cores: ${shares.join(", ")}, load ` +
      `${formatNumber(result.loadCpuSeconds / result.seconds * 100, 0)}%` +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publishes failed` : ""),
  );
}
