/**
 * @module
 * A Redis Cluster of the test's own: three masters and three replicas, on free loopback ports
 * (and free cluster bus ports), each in its own directory under one temporary directory, with
 * `cluster-node-timeout` 1500. Formed by `redis-cli --cluster create`, then awaited until every
 * node agrees on the slots. Each server can be killed and started again on its port with its
 * `nodes.conf`, so that a killed master comes back as a replica. Never the machine's Redis.
 */

import calculateSlot from "cluster-key-slot";
import { until } from "./cluster_helpers.ts";
import {
  firstShards,
  isTakenOver,
  masterPortOf,
  ownsSlot,
  replicaPortsOf,
  type Shard,
  shardsOf,
  untilAgreed,
} from "./redis_cluster_shards.ts";
import { startServer, type TopologyServer } from "./sentinel_topology.ts";

/** `cluster-node-timeout`, in milliseconds: how long a master may be silent before it is
 * suspected, so the least a failover takes. */
export const NODE_TIMEOUT_MS = 1_500;

/** How long the cluster may take to form once its servers run, in milliseconds. */
const FORM_MS = 15_000;

/** How long `untilFailedOver` waits by default, in milliseconds. */
const FAILOVER_MS = 10_000;

/** Options of `startRedisCluster`. */
export interface ClusterOptions {
  /** The password of every node (`requirepass`, `masterauth`); none by default. */
  readonly password?: string;
  /** Redis settings added to every node's, e.g. `["repl-ping-replica-period 3600"]`. */
  readonly settings?: readonly string[];
}

/** A running Redis Cluster. */
export interface RedisCluster extends AsyncDisposable {
  /** All six servers: the masters as formed, then their replicas in the same order. */
  readonly nodes: readonly TopologyServer[];
  /** The three masters as formed. */
  readonly masters: readonly TopologyServer[];
  /** The three replicas as formed: `replicas[i]` replicated `masters[i]`. */
  readonly replicas: readonly TopologyServer[];
  /** Every node's `host:port`, for `--redis-cluster`. */
  readonly seedAddresses: readonly string[];
  /** The master that owns `key`'s slot now, as the first running node that answers sees it. */
  masterOf(key: string): Promise<TopologyServer>;
  /** A replica of `master` now, as the first running node that answers sees it. */
  replicaOf(master: TopologyServer): Promise<TopologyServer>;
  /** Resolves with the replica promoted in place of `oldMaster` (killed while it was a master
   * with a replica) once that replica is a master, and every other running node says
   * `cluster_state:ok` and sees it owning the slots and `oldMaster` owning none. Rejects after
   * `ms` (default 10 000). */
  untilFailedOver(oldMaster: TopologyServer, ms?: number): Promise<TopologyServer>;
  /** Resolves once every running node says `cluster_state:ok` and sees the same masters,
   * replicas and slots, with every running node among them and every replica in sync (as
   * `startRedisCluster` does before it returns). Rejects after `ms` (default 15 000). */
  untilAgreed(ms?: number): Promise<void>;
}

/** Starts six redis-servers in cluster mode, forms a cluster of three masters with one replica
 * each, and waits until every node says `cluster_state:ok`, every node sees the same masters,
 * replicas and slots, and every replica is in sync (so that each master can fail over). */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  const { password = null, settings = [] } = options;
  const dir = await Deno.makeTempDir({ prefix: "boreas_cluster_" });
  const started: TopologyServer[] = [];
  try {
    const ports = freePorts(12);
    const starting = await Promise.allSettled(
      [0, 1, 2, 3, 4, 5].map(async (i) => {
        const [port, busPort] = [ports[2 * i]!, ports[2 * i + 1]!];
        const nodeDir = `${dir}/${port}`;
        await Deno.mkdir(nodeDir);
        const server = await startServer(
          "redis-server",
          nodeDir,
          nodeConfig(port, busPort, nodeDir, password) +
            settings.map((line) => `${line}\n`).join(""),
          password,
        );
        started.push(server);
        return server;
      }),
    );
    const failed = starting.find((result) => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    await createCluster(started, password);
    const shards = await untilAgreed(started, FORM_MS);
    return new TestCluster(started, shards, dir);
  } catch (error) {
    await stopAll(started, dir);
    throw error;
  }
}

/** The `nodes.conf` of a server lives in its own `dir`, so that each restarts as itself. */
function nodeConfig(
  port: number,
  busPort: number,
  dir: string,
  password: string | null,
): string {
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    "cluster-enabled yes",
    "cluster-config-file nodes.conf",
    `cluster-node-timeout ${NODE_TIMEOUT_MS}`,
    // The default bus port, port + 10000, may be taken or above 65535 for a random port.
    `cluster-port ${busPort}`,
    'save ""',
    "appendonly no",
    // A replica that (re)joins is sent the data at once, not after the default 5 s.
    "repl-diskless-sync-delay 0",
    'logfile ""',
    ...(password === null ? [] : [`requirepass ${password}`, `masterauth ${password}`]),
  ].join("\n") + "\n";
}

/** Runs `redis-cli --cluster create` over `servers`; throws with its output when it fails. */
async function createCluster(
  servers: readonly TopologyServer[],
  password: string | null,
): Promise<void> {
  const { code, stdout } = await new Deno.Command("redis-cli", {
    args: [
      ...(password === null ? [] : ["-a", password, "--no-auth-warning"]),
      "--cluster",
      "create",
      ...servers.map((server) => server.address),
      "--cluster-replicas",
      "1",
      "--cluster-yes",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`redis-cli --cluster create failed: ${new TextDecoder().decode(stdout)}`);
  }
}

/** The servers of a formed cluster, each wrapped to keep track of which are running. */
class TestCluster implements RedisCluster {
  readonly nodes: readonly TopologyServer[];
  readonly masters: readonly TopologyServer[];
  readonly replicas: readonly TopologyServer[];
  readonly seedAddresses: readonly string[];
  readonly #servers: readonly TopologyServer[];
  readonly #dir: string;
  readonly #stopped = new Set<number>();
  /** The ports of the replicas each master (by port) had when it was killed. */
  readonly #heirs = new Map<number, number[]>();

  constructor(servers: readonly TopologyServer[], shards: readonly Shard[], dir: string) {
    this.#servers = servers;
    this.#dir = dir;
    const tracked = servers.map((server) => this.#track(server));
    this.masters = shards.map((shard) => serverOn(tracked, masterPortOf(shard)));
    this.replicas = shards.map((shard) => serverOn(tracked, replicaPortsOf(shard)[0]));
    this.nodes = [...this.masters, ...this.replicas];
    this.seedAddresses = this.nodes.map((server) => server.address);
  }

  async masterOf(key: string): Promise<TopologyServer> {
    const slot = calculateSlot(key);
    const shard = (await firstShards(this.#running())).find((s) => ownsSlot(s, slot));
    if (shard === undefined) throw new Error(`no master owns slot ${slot} of "${key}"`);
    return serverOn(this.nodes, masterPortOf(shard));
  }

  async replicaOf(master: TopologyServer): Promise<TopologyServer> {
    const shards = await firstShards(this.#running());
    const shard = shards.find((s) => masterPortOf(s) === master.port);
    const port = shard === undefined ? undefined : replicaPortsOf(shard)[0];
    if (port === undefined) throw new Error(`${master.address} is not a master with a replica`);
    return serverOn(this.nodes, port);
  }

  async untilFailedOver(oldMaster: TopologyServer, ms = FAILOVER_MS): Promise<TopologyServer> {
    const candidates = this.#heirs.get(oldMaster.port);
    if (!this.#stopped.has(oldMaster.port) || candidates === undefined) {
      throw new TypeError(`${oldMaster.address} was not killed while a master with a replica`);
    }
    let heir: TopologyServer | undefined;
    await until(
      async () => {
        heir = await promotedOf(candidates.map((port) => serverOn(this.nodes, port)));
        if (heir === undefined) return false;
        return await isTakenOver(this.#running(), { heirPort: heir.port, oldPort: oldMaster.port });
      },
      `a replica of ${oldMaster.address} to take over its slots`,
      ms,
    );
    return heir!;
  }

  async untilAgreed(ms = FORM_MS): Promise<void> {
    await untilAgreed(this.#running(), ms);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await stopAll(this.#servers, this.#dir);
  }

  #running(): TopologyServer[] {
    return this.nodes.filter((server) => !this.#stopped.has(server.port));
  }

  #track(server: TopologyServer): TopologyServer {
    return {
      ...server,
      kill: async () => {
        // Whom the cluster may promote in its place, while the master can still say.
        const shard = (await shardsOf(server))?.find((s) => masterPortOf(s) === server.port);
        if (shard !== undefined) this.#heirs.set(server.port, replicaPortsOf(shard));
        await server.kill();
        this.#stopped.add(server.port);
      },
      start: async () => {
        await server.start();
        this.#stopped.delete(server.port);
      },
    };
  }
}

/** The first of `candidates` that says it is a master, if any. */
async function promotedOf(
  candidates: readonly TopologyServer[],
): Promise<TopologyServer | undefined> {
  for (const candidate of candidates) {
    if ((await candidate.cli("ROLE"))[0] === "master") return candidate;
  }
  return undefined;
}

function serverOn(servers: readonly TopologyServer[], port: number | undefined): TopologyServer {
  const server = servers.find((candidate) => candidate.port === port);
  if (server === undefined) throw new Error(`no server of the cluster on port ${port}`);
  return server;
}

/** `count` distinct loopback ports nothing listens on right now: all are held until the last
 * is found, so none is handed out twice. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => (listener.addr as Deno.NetAddr).port);
  for (const listener of listeners) listener.close();
  return ports;
}

async function stopAll(servers: readonly TopologyServer[], dir: string): Promise<void> {
  await Promise.all(servers.map((server) => server.kill()));
  await Deno.remove(dir, { recursive: true });
}
