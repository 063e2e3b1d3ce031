/**
 * @module
 * The cluster scenarios of `deno task bench`: two Boreas nodes on the benchmark's own
 * `redis-server` against one standalone Boreas, started side by side in each run and driven by
 * a load generator each. One channel with 1,000 subscribers split across the nodes, 5,000
 * two-subscriber rooms (each room's pair on one node), and join/leave churn on one node.
 * Server-side CPU time is that of every node plus `redis-server`. Records into
 * `ClusterResults`; prints nothing but the progress lines it hands to `log`.
 */

import type { ClusterResults, ClusterRow } from "./cluster_report.ts";
import {
  checkSubscriptions,
  type Deployment,
  type Deployments,
  nodeCounts,
  startDeployments,
} from "./cluster_setup.ts";
import type { FanoutResult } from "./ipc.ts";
import type { Placement } from "./processes.ts";
import { formatNumber } from "./report.ts";
import {
  CHANNEL,
  fanoutWindow as deliverWindow,
  PRIMER_EXTRA_MS,
  type WindowRouting,
} from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

/** Rooms of the many-rooms scenario, two subscribers each. */
export const ROOMS = 5_000;
/** Connections moving between channels in the churn scenario. */
export const CHURN_CONNECTIONS = 400;
/** Broadcasts in flight at once to the rooms (each brings only 2 frames). */
export const ROOMS_INFLIGHT = 32;

/** What the cluster scenarios measure and where they run. */
export interface ClusterOptions {
  /** Deliveries a second in the fixed-rate window. */
  readonly rate: number;
  /** Broadcasts outstanding at once in the one-channel saturation window. */
  readonly inflight: number;
  /** Subscribers of the one channel, split evenly across the nodes (`--cluster-subscribers`). */
  readonly clusterSubscribers: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly serverPlacement: Placement;
  readonly loadPlacement: Placement;
}

type Log = (line: string) => void;
type Context = { run: number; options: ClusterOptions; results: ClusterResults; log: Log };

/** The table's rows, with the targets of docs/benchmarks.md. */
export function clusterRows(
  { rate, clusterSubscribers }: Pick<ClusterOptions, "rate" | "clusterSubscribers">,
): ClusterRow[] {
  const atRate = `at ${formatNumber(rate, 0)} deliveries/s`;
  const one = `one channel, ${formatNumber(clusterSubscribers, 0)} subscribers`;
  const rooms = `${formatNumber(ROOMS, 0)} rooms × 2 subscribers`;
  return [
    {
      key: "one.rate.cpu",
      label: `server-side CPU per delivered msg ${atRate}, ${one} (µs)`,
      digits: 2,
      target: { kind: "max-ratio", value: 1.25 },
    },
    {
      key: "one.saturate.cpu",
      label: `server-side CPU per delivered msg at saturation, ${one} (µs)`,
      digits: 2,
      target: { kind: "max-ratio", value: 1.25 },
    },
    { key: "one.rate.p50", label: `p50 latency ${atRate}, ${one} (ms)`, digits: 2 },
    {
      key: "one.rate.p99",
      label: `p99 latency ${atRate}, ${one} (ms)`,
      digits: 2,
      target: { kind: "max-difference", value: 5 },
    },
    { key: "one.saturate.rate", label: `delivered msg/s at saturation, ${one}`, digits: 0 },
    ...["node a", "node b", "redis-server"].map((name) => ({
      key: `one.saturate.cpu.${name}`,
      label: `of which ${name}, at saturation (µs)`,
      digits: 2,
    })),
    {
      key: "rooms.cpu",
      label: `server-side CPU per delivered msg at saturation, ${rooms} (µs)`,
      digits: 2,
    },
    ...["node a", "node b", "redis-server"].map((name) => ({
      key: `rooms.cpu.${name}`,
      label: `of which ${name} (µs)`,
      digits: 2,
    })),
    { key: "rooms.rate", label: `delivered msg/s at saturation, ${rooms}`, digits: 0 },
    { key: "rooms.p99", label: `p99 latency at saturation, ${rooms} (ms)`, digits: 2 },
    ...["a", "b"].map((node): ClusterRow => ({
      key: `rooms.unserved.${node}`,
      label: `Redis messages node ${node} received for rooms it does not serve`,
      digits: 0,
      target: { kind: "max-cluster", value: 0 },
    })),
    {
      key: "rooms.notOnce",
      label: "rooms whose pub/sub channel had ≠ 1 subscriber (PUBSUB NUMSUB)",
      digits: 0,
      target: { kind: "max-cluster", value: 0 },
    },
    {
      key: "churn.rate",
      label: `joins + leaves a second, one node, ${CHURN_CONNECTIONS} connections`,
      digits: 0,
    },
    { key: "churn.cpu", label: "server-side CPU per join or leave (µs)", digits: 2 },
    { key: "churn.p99", label: "p99 move acknowledgement (join + leave) (ms)", digits: 2 },
  ];
}

/** Both deployments' figures for run `run`; the order of the sides alternates between runs. */
export async function clusterRun(
  run: number,
  options: ClusterOptions,
  { results, log }: { results: ClusterResults; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(ROOMS * 2));
  const deployments = await startDeployments(stack, { ...options, tokensUrl: tokens.url });
  const sides: Deployment[] = run % 2 === 0
    ? [deployments.cluster, deployments.standalone]
    : [deployments.standalone, deployments.cluster];
  const context = { run, options, results, log };
  await oneChannel(context, sides);
  await manyRooms(context, { sides, deployments });
  await churn(context, sides);
}

async function oneChannel(context: Context, sides: readonly Deployment[]): Promise<void> {
  const { options } = context;
  for (const side of sides) {
    await connect(side, {
      count: options.clusterSubscribers,
      channels: (_node) => [CHANNEL],
    });
    const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
    await fanoutWindow(side, { options: primer, mode: "saturate" });
  }
  for (const mode of ["rate", "saturate"] as const) {
    for (const side of sides) {
      const result = await fanoutWindow(side, { options, mode });
      record(context, { side, key: `one.${mode}`, result });
    }
  }
  for (const side of sides) await side.load.send({ op: "disconnect" });
}

async function manyRooms(
  context: Context,
  { sides, deployments }: { sides: readonly Deployment[]; deployments: Deployments },
): Promise<void> {
  const { options, results, run, log } = context;
  const rooms = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
  for (const side of sides) {
    // Each node gets whole rooms: node k of n the rooms i with i % n = k, both subscribers of
    // each, so that publishing to the rooms in turn alternates between the nodes.
    const count = side.nodes.length;
    await connect(side, {
      count: ROOMS * 2,
      channels: (node) => rooms.filter((_, i) => i % count === node),
    });
  }
  const { cluster } = deployments;
  const before = await Promise.all(cluster.nodes.map(nodeCounts));
  for (const side of sides) {
    const result = await fanoutWindow(side, {
      options: { ...options, inflight: ROOMS_INFLIGHT },
      mode: "saturate",
      channels: rooms,
      recipients: 2,
    });
    record(context, { side, key: "rooms", result });
  }
  const after = await Promise.all(cluster.nodes.map(nodeCounts));
  // Every room a node serves has both its subscribers there: a served message brings 2 frames,
  // an unserved one (if Redis sent any) 0.
  ["a", "b"].forEach((node, i) => {
    const received = after[i]!.broadcastsReceived - before[i]!.broadcastsReceived;
    const served = (after[i]!.framesDelivered - before[i]!.framesDelivered) / 2;
    results.add("cluster", `rooms.unserved.${node}`, run, received - served);
    log(
      `run ${run + 1} cluster  node ${node}: ${received} Redis messages received, ${served} for ` +
        `rooms it serves, ${received - served} for others`,
    );
  });
  const check = await checkSubscriptions(deployments.redis, rooms.map((room) => `boreas:${room}`));
  results.add("cluster", "rooms.notOnce", run, check.notOnce + check.patterns);
  log(
    `run ${run + 1} cluster  PUBSUB NUMSUB: ${check.notOnce} of ${ROOMS} rooms not subscribed ` +
      `exactly once; pub/sub clients sub=${check.perClient.join(",")}, psub total ` +
      `${check.patterns}`,
  );
  for (const side of sides) await side.load.send({ op: "disconnect" });
}

async function churn(context: Context, sides: readonly Deployment[]): Promise<void> {
  const { options, results, run, log } = context;
  for (const side of sides) {
    const reply = await side.load.send({
      op: "churn",
      wsUrl: side.api.wsUrl,
      connections: CHURN_CONNECTIONS,
      prefix: `churn-${run}`,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      serverPids: [side.api.pid, ...side.extraPids],
    });
    const result = reply.churn!;
    const changes = result.moves * 2;
    const cpu = result.serverCpuSeconds.reduce((sum, seconds) => sum + seconds, 0);
    results.add(side.side, "churn.rate", run, changes / result.seconds);
    results.add(side.side, "churn.cpu", run, cpu / changes * 1e6);
    results.add(side.side, "churn.p99", run, result.p99Ms);
    const shares = result.serverCpuSeconds.map((seconds, i) =>
      `${side.names[i]} ${formatNumber(seconds / result.seconds * 100, 0)}%`
    );
    log(
      `run ${run + 1} ${side.side.padEnd(10)} churn: ${
        formatNumber(changes / result.seconds, 0)
      } ` +
        `joins + leaves/s, ${formatNumber(cpu / changes * 1e6, 2)} µs CPU each, p50 ` +
        `${formatNumber(result.p50Ms, 2)} ms, p99 ${formatNumber(result.p99Ms, 2)} ms; cores: ` +
        `${shares.join(", ")}, load ${
          formatNumber(result.loadCpuSeconds / result.seconds * 100, 0)
        }%`,
    );
  }
}

/** Opens `count` subscribers spread evenly over `side`'s nodes; node k's join
 * `channels(k)` in turn. */
export async function connect(
  side: Deployment,
  { count, channels }: { count: number; channels: (node: number) => readonly string[] },
): Promise<void> {
  const perNode = count / side.nodes.length;
  for (const [node, server] of side.nodes.entries()) {
    await side.load.send({
      op: "connect",
      wsUrl: server.wsUrl,
      channel: CHANNEL,
      channels: channels(node),
      count: perNode,
    });
  }
}

/** One fan-out window of `mode` on `side`: posted to its `api` node, with the CPU time of its
 * other processes read beside. */
export function fanoutWindow(
  side: Deployment,
  { options, mode, ...routing }: {
    options: ClusterOptions;
    mode: "rate" | "saturate";
  } & Pick<WindowRouting, "channels" | "recipients">,
): Promise<FanoutResult> {
  const { api: server, load, extraPids } = side;
  return deliverWindow(options, { server, load, mode, extraPids, ...routing });
}

function record(
  { run, results, log }: Context,
  { side, key, result }: { side: Deployment; key: string; result: FanoutResult },
): void {
  const perProcess = [result.serverCpuSeconds, ...result.extraCpuSeconds ?? []];
  const cpu = perProcess.reduce((sum, seconds) => sum + seconds, 0);
  const perDelivery = (seconds: number) => seconds / result.deliveries * 1e6;
  const at = (name: string, value: number) => results.add(side.side, `${key}.${name}`, run, value);
  at("cpu", perDelivery(cpu));
  at("rate", result.deliveries / result.seconds);
  at("p50", result.p50Ms);
  at("p99", result.p99Ms);
  if (side.side === "cluster") {
    perProcess.forEach((seconds, i) => at(`cpu.${side.names[i]}`, perDelivery(seconds)));
  }
  const shares = perProcess.map((seconds, i) =>
    `${side.names[i]} ${formatNumber(seconds / result.seconds * 100, 0)}%`
  );
  log(
    `run ${run + 1} ${side.side.padEnd(10)} ${key.padEnd(12)}: ` +
      `${formatNumber(result.deliveries / result.seconds, 0).padStart(7)} deliveries/s, ` +
      `p50 ${formatNumber(result.p50Ms, 2)} ms, p99 ${formatNumber(result.p99Ms, 2)} ms, ` +
      `${formatNumber(perDelivery(cpu), 2)} µs CPU each; cores: ${shares.join(", ")}, load ` +
      `${formatNumber(result.loadCpuSeconds / result.seconds * 100, 0)}%` +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publishes failed` : ""),
  );
}
