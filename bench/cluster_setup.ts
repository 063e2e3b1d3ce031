/**
 * @module
 * The deployments the cluster scenarios compare, started side by side for one run: a
 * standalone Boreas, and two Boreas nodes (`a` publishing, `b`) on the benchmark's own
 * `redis-server`; plus what the scenarios read from them besides CPU time: a node's own
 * counters from `/metrics`, and Redis's view of who subscribed to what. `startCluster` starts
 * the two nodes and their Redis alone, with flags of the caller's (the history part's).
 */

import { LoadProcess, type Placement, ServerProcess } from "./processes.ts";
import { RedisProcess } from "./redis_process.ts";
import type { Side } from "./cluster_report.ts";

const HEALTH_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 50;

/** One side of the comparison: the node broadcasts are posted to, every node subscribers are
 * spread over, and the server-side processes whose CPU time is counted. */
export interface Deployment {
  readonly side: Side;
  /** The node `POST /broadcast/` goes to; its CPU time is read first. */
  readonly api: ServerProcess;
  /** Where subscribers connect, spread evenly in this order. */
  readonly nodes: readonly ServerProcess[];
  /** The other server-side processes (the second node, `redis-server`). */
  readonly extraPids: readonly number[];
  /** Names of `api`, then of each of `extraPids`, for the per-process breakdown. */
  readonly names: readonly string[];
  /** This side's own load generator. */
  readonly load: LoadProcess;
}

/** Both deployments of one run, and the cluster's Redis. */
export interface Deployments {
  readonly standalone: Deployment;
  readonly cluster: Deployment;
  readonly redis: RedisProcess;
}

/** Where the processes of a deployment run, and where their load generator gets tokens. */
export interface DeploymentPlacement {
  readonly tokensUrl: string;
  readonly serverPlacement: Placement;
  readonly loadPlacement: Placement;
}

/** Starts Redis, the standalone server, both nodes and a load generator for each side onto
 * `stack` (so disposing it stops them in reverse order: load generators, nodes, Redis);
 * resolves once both nodes report healthy and each load generator has the tokens. */
export async function startDeployments(
  stack: AsyncDisposableStack,
  placement: DeploymentPlacement,
): Promise<Deployments> {
  const redis = stack.use(await RedisProcess.start(placement.serverPlacement));
  const standalone = stack.use(
    await ServerProcess.start("boreas", {
      ...placement.serverPlacement,
      tokensUrl: placement.tokensUrl,
      args: [],
    }),
  );
  const cluster = await startNodes(stack, { ...placement, backend: redisBackend(redis), args: [] });
  return { redis, standalone: await standaloneSide(stack, standalone, placement), cluster };
}

/** `server` alone as a deployment, with a load generator of its own started onto `stack`. */
export async function standaloneSide(
  stack: AsyncDisposableStack,
  server: ServerProcess,
  placement: DeploymentPlacement,
): Promise<Deployment> {
  return {
    side: "standalone",
    api: server,
    nodes: [server],
    extraPids: [],
    names: ["standalone"],
    load: await startLoad(stack, placement),
  };
}

/** Starts its own Redis and the two nodes `a` and `b` on it, each with `args` added to the
 * benchmark's flags, and a load generator, onto `stack` (disposed in reverse order); resolves
 * once both nodes report healthy and the load generator has the tokens. */
export async function startCluster(
  stack: AsyncDisposableStack,
  { args, ...placement }: DeploymentPlacement & { args: readonly string[] },
): Promise<{ cluster: Deployment; redis: RedisProcess }> {
  const redis = stack.use(await RedisProcess.start(placement.serverPlacement));
  return {
    cluster: await startNodes(stack, { ...placement, backend: redisBackend(redis), args }),
    redis,
  };
}

/** The store nodes run on: their flags to reach it, and its processes whose CPU time is
 * counted, with their names. */
export interface Backend {
  readonly args: readonly string[];
  readonly pids: readonly number[];
  readonly names: readonly string[];
}

/** `redis`, as a `Backend`. */
export function redisBackend(redis: RedisProcess): Backend {
  return { args: ["--redis-url", redis.url], pids: [redis.pid], names: ["redis-server"] };
}

/** Starts one node on `backend` for each of `ids` (default `a` and `b`), each with `args` added
 * to the benchmark's flags, and a load generator, onto `stack` (disposed in reverse order);
 * resolves once every node reports healthy and the load generator has the tokens. */
export async function startNodes(
  stack: AsyncDisposableStack,
  { backend, args, ids = ["a", "b"], ...placement }: DeploymentPlacement & {
    backend: Backend;
    args: readonly string[];
    ids?: readonly string[];
  },
): Promise<Deployment> {
  const nodes: ServerProcess[] = [];
  for (const id of ids) {
    nodes.push(stack.use(
      await ServerProcess.start("boreas", {
        ...placement.serverPlacement,
        tokensUrl: placement.tokensUrl,
        args: [...backend.args, "--node-id", id, ...args],
      }),
    ));
  }
  await Promise.all(nodes.map((node) => untilHealthy(node.apiUrl)));
  return {
    side: "cluster",
    api: nodes[0]!,
    nodes,
    extraPids: [...nodes.slice(1).map((node) => node.pid), ...backend.pids],
    names: [...ids.map((id) => `node ${id}`), ...backend.names],
    load: await startLoad(stack, placement),
  };
}

/** Starts a load generator onto `stack` and hands it the tokens at `tokensUrl`. */
export async function startLoad(
  stack: AsyncDisposableStack,
  { tokensUrl, loadPlacement }: DeploymentPlacement,
): Promise<LoadProcess> {
  const process = stack.use(LoadProcess.start(loadPlacement));
  await process.send({ op: "tokens", url: tokensUrl });
  return process;
}

/** Resolves once `GET /health` answers 200 (the node reached Redis); rejects after 20 s. */
async function untilHealthy(apiUrl: string): Promise<void> {
  const deadline = performance.now() + HEALTH_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const response = await fetch(`${apiUrl}/health`).catch(() => undefined);
    await response?.body?.cancel();
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, HEALTH_POLL_MS));
  }
  throw new Error(`${apiUrl}/health: not healthy after ${HEALTH_TIMEOUT_MS / 1000} s`);
}

/** A node's own counters, from its `/metrics`. */
export interface NodeCounts {
  /** Broadcasts this node handed to its hub: in cluster mode, every message Redis sent it on
   * a broadcast channel (`boreas_broadcast_fanout_seconds_count`). */
  readonly broadcastsReceived: number;
  /** Frames it sent to its subscribers (`boreas_frames_delivered_total`). */
  readonly framesDelivered: number;
}

/** Reads `server`'s `/metrics`. */
export async function nodeCounts(server: ServerProcess): Promise<NodeCounts> {
  const text = await (await fetch(`${server.apiUrl}/metrics`)).text();
  const value = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    if (match === null) throw new Error(`${server.apiUrl}/metrics: no ${name}`);
    return Number(match[1]);
  };
  return {
    broadcastsReceived: value("boreas_broadcast_fanout_seconds_count"),
    framesDelivered: value("boreas_frames_delivered_total"),
  };
}

/** What Redis says about the subscriptions to `pubsubChannels`. */
export interface SubscriptionCheck {
  /** Channels with a subscriber count (`PUBSUB NUMSUB`) other than exactly 1. */
  readonly notOnce: number;
  /** `sub=` of each client subscribed to anything (`CLIENT LIST TYPE pubsub`), descending. */
  readonly perClient: readonly number[];
  /** Pattern subscriptions (`psub=`) over all those clients. */
  readonly patterns: number;
}

/** Asks `redis` how `pubsubChannels` are subscribed to. */
export async function checkSubscriptions(
  redis: RedisProcess,
  pubsubChannels: readonly string[],
): Promise<SubscriptionCheck> {
  const numsub = (await redis.cli(["PUBSUB", "NUMSUB", ...pubsubChannels])).trim().split("\n");
  let notOnce = 0;
  for (let i = 1; i < numsub.length; i += 2) if (numsub[i] !== "1") notOnce++;
  const clients = (await redis.cli(["CLIENT", "LIST", "TYPE", "pubsub"])).trim().split("\n");
  const field = (line: string, name: string) =>
    Number(new RegExp(`(?:^| )${name}=(\\d+)`).exec(line)?.[1] ?? 0);
  const perClient = clients.map((line) => field(line, "sub")).sort((x, y) => y - x);
  const patterns = clients.reduce((sum, line) => sum + field(line, "psub"), 0);
  return {
    notOnce: notOnce + Math.max(0, pubsubChannels.length - numsub.length / 2),
    perClient,
    patterns,
  };
}
