/**
 * Every backend contract (tests/cluster_contract.ts) against every backend: memory, a
 * redis-server of the test's own, and a Sentinel deployment of its own (a master, a replica,
 * three sentinels). Each backend's servers start once, for one test whose steps are the
 * cases; each case makes its nodes under a Redis prefix of its own, so that no case sees
 * another's keys.
 */

import { type Config, DEFAULT_CONFIG } from "../src/config.ts";
import type { BackendConfig } from "../src/backend/backend.ts";
import { composeBackend } from "../src/backend/compose.ts";
import { Hub } from "../src/hub.ts";
import { silentLogger } from "../src/log.ts";
import { Metrics } from "../src/metrics.ts";
import type { EventSink } from "../src/webhooks/events.ts";
import { until } from "./cluster_helpers.ts";
import {
  type ContractNode,
  type NewBackend,
  runContracts,
  type SkipEntry,
} from "./cluster_contract.ts";
import { ONE_NODE_REASON } from "./contracts/contract.ts";
import { startRedis } from "./redis_server.ts";
import { MASTER_NAME, startSentinelTopology } from "./sentinel_topology.ts";
import { startRedisCluster } from "./redis_cluster_topology.ts";

/** A backend to hold to the contracts: how to start its servers, and what it skips. */
interface BackendUnderTest {
  readonly name: string;
  /** Starts its servers (once per run); disposing the answer stops them. */
  start(): Promise<{ readonly newBackend: NewBackend } & AsyncDisposable>;
  readonly skip: readonly SkipEntry[];
}

/** The cases that need a second node of the same cluster. */
const TWO_NODE_CASES = [
  "a token minted on one node authenticates on another, and its revocation reaches both",
  "a publish through one node reaches every node's subscribers, and counts them all",
  "`exceptName` leaves out the named subscriber on whichever node it is",
  "each node counts the other nodes' connections, until they leave",
  "a user with connections on two nodes joins once, and leaves once both are gone",
  "disconnect() closes the user's connections on every node, and counts them all",
  "a block made on one node closes the user's connections and is seen on the others",
  "occupied and vacated are told once across the cluster",
  "a frame set on one node is the last frame on every node",
];

/** What the Redis backends (single and Sentinel) do otherwise than the contract says: nothing
 * today (add `{ reason, cases }` entries here). */
const REDIS_DIFFERENCES: readonly SkipEntry[] = [];

/** What Redis Cluster does otherwise than the contract says. */
const CLUSTER_DIFFERENCES: readonly SkipEntry[] = [
  ...REDIS_DIFFERENCES,
  {
    reason: "redis cluster: channels of different slots travel through different shards' " +
      "subscriptions, so a subscriber of several gets one frame per channel, but in no set " +
      "order across channels (each channel's own frames keep their order)",
    cases: ["the broker publishes to many channels: once each, one frame per channel, in order"],
  },
];

/** Every backend the contracts run against. */
const BACKENDS: readonly BackendUnderTest[] = [
  {
    name: "memory",
    start: () =>
      Promise.resolve({
        newBackend: nodesOf({}, { hasPeers: false }),
        [Symbol.asyncDispose]: async () => {},
      }),
    skip: [{ reason: `memory: ${ONE_NODE_REASON}`, cases: TWO_NODE_CASES }],
  },
  {
    name: "redis",
    async start() {
      const redis = await startRedis();
      return {
        newBackend: nodesOf({ redisUrl: redis.url }),
        [Symbol.asyncDispose]: () => redis[Symbol.asyncDispose](),
      };
    },
    skip: REDIS_DIFFERENCES,
  },
  {
    name: "sentinel",
    async start() {
      const topology = await startSentinelTopology();
      const target = {
        redisSentinel: topology.sentinelAddresses,
        redisSentinelMaster: MASTER_NAME,
      };
      return {
        newBackend: nodesOf(target),
        [Symbol.asyncDispose]: () => topology[Symbol.asyncDispose](),
      };
    },
    skip: REDIS_DIFFERENCES,
  },
  {
    name: "redis cluster",
    async start() {
      const cluster = await startRedisCluster();
      return {
        newBackend: nodesOf({ redisCluster: cluster.seedAddresses }),
        [Symbol.asyncDispose]: () => cluster[Symbol.asyncDispose](),
      };
    },
    skip: CLUSTER_DIFFERENCES,
  },
];

for (const { name, start, skip } of BACKENDS) {
  Deno.test(`the backend contracts hold on ${name}`, async (t) => {
    await using servers = await start();
    await runContracts(t, { name, newBackend: servers.newBackend, skip });
  });
}

/** Makes nodes of the backend `target` selects (none: memory). A node without a peer starts a
 * cluster of its own, under a `--redis-prefix` of its own; a peer joins its peer's cluster as
 * another node id, with a hub of its own. Without `hasPeers` (memory), asking for one throws. */
function nodesOf(target: Partial<Config>, { hasPeers = true } = {}): NewBackend {
  const configs = new WeakMap<ContractNode, BackendConfig>();
  /** How many nodes each cluster, by its prefix, has had. */
  const clusters = new Map<string, number>();
  return async ({ config = {}, events, peerOf } = {}) => {
    if (peerOf !== undefined && !hasPeers) throw new TypeError(ONE_NODE_REASON);
    const base = peerOf === undefined
      ? { ...DEFAULT_CONFIG, ...target, redisPrefix: `contract${clusters.size + 1}` }
      : configs.get(peerOf);
    if (base === undefined) throw new TypeError("peerOf: not a node of this backend");
    const count = (clusters.get(base.redisPrefix) ?? 0) + 1;
    clusters.set(base.redisPrefix, count);
    const nodeConfig = { ...base, ...config, nodeId: `${base.redisPrefix}n${count}` };
    const node = await startNode(nodeConfig, events);
    configs.set(node, nodeConfig);
    return node;
  };
}

/** Builds a node as `composeBackend` does for the server, and waits until it is connected and
 * counted among the live nodes. Disposing it twice closes it once. */
async function startNode(
  config: BackendConfig,
  events: EventSink | undefined,
): Promise<ContractNode> {
  const hub = new Hub();
  const metrics = new Metrics();
  const logger = silentLogger();
  const backend = composeBackend(config, { hub, metrics, logger, tokens: [], events });
  let isClosed = false;
  const node: ContractNode = {
    backend,
    hub,
    metrics,
    async [Symbol.asyncDispose]() {
      if (isClosed) return;
      isClosed = true;
      await backend.close();
    },
  };
  try {
    await until(() => backend.problems().length === 0, `node ${config.nodeId} to connect`);
    // Registered among the live nodes: what it writes from now on counts.
    await backend.membership.synced();
  } catch (error) {
    await node[Symbol.asyncDispose]();
    throw error;
  }
  return node;
}
