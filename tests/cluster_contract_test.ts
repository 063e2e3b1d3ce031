/**
 * The cluster contract, run against the standalone implementation and against Redis (a
 * redis-server of the test's own).
 */

import { DEFAULT_CONFIG } from "../src/config.ts";
import { composeBackend } from "../src/backend/compose.ts";
import { silentLogger } from "../src/log.ts";
import { until } from "./cluster_helpers.ts";
import { clusterContract } from "./cluster_contract.ts";
import { startRedis } from "./redis_server.ts";

clusterContract("standalone", (hub, metrics) => {
  const cluster = composeBackend(DEFAULT_CONFIG, {
    hub,
    metrics,
    logger: silentLogger(),
    tokens: [],
  });
  return Promise.resolve({ cluster, [Symbol.asyncDispose]: () => cluster.close() });
});

clusterContract("redis", async (hub, metrics) => {
  const redis = await startRedis();
  const config = { ...DEFAULT_CONFIG, redisUrl: redis.url, nodeId: "contract" };
  const cluster = composeBackend(config, { hub, metrics, logger: silentLogger(), tokens: [] });
  const dispose = async () => {
    await cluster.close();
    await redis[Symbol.asyncDispose]();
  };
  try {
    await until(() => cluster.problems().length === 0, "the cluster to connect");
  } catch (error) {
    await dispose();
    throw error;
  }
  return { cluster, [Symbol.asyncDispose]: dispose };
});
