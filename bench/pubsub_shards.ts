/**
 * @module
 * The sharded pub/sub part of `deno task bench` (`--only pubsub-shards`): Redis's own CPU time
 * per publish on the benchmark's 3-master Redis Cluster, classic pub/sub (`PUBLISH`,
 * `SUBSCRIBE`) against sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`), with raw `@redis/client`
 * connections and no Boreas. In each mode, one subscriber connection per master subscribes to
 * the channels that master owns, and one publisher connection per master publishes to them in
 * turn, pipelined: the only difference is that a classic publish also travels over the cluster
 * bus to every other master. CPU time is that of every `redis-server`, from `/proc`.
 */

import { createClient } from "@redis/client";
import { cpuSeconds } from "./proc.ts";
import { hasCommand, type Placement } from "./processes.ts";
import { RedisClusterProcess } from "./redis_cluster_setup.ts";
import { type Columns, formatNumber, Results, type RowSpec } from "./report.ts";

/** Channels published to, one subscriber each. */
export const PUBSUB_CHANNELS = 1_000;
/** Publishes measured in each mode and run, after `WARMUP_PUBLISHES`. */
export const PUBLISHES = 200_000;
const WARMUP_PUBLISHES = 5_000;
/** Publishes each publisher connection has outstanding at once. */
const PIPELINE = 100;
const PAYLOAD = "x".repeat(100);
const MASTERS = 3;

type Mode = "classic" | "sharded";
type Client = ReturnType<typeof createClient>;
type Log = (line: string) => void;

const COLUMNS: Columns<Mode> = {
  subject: "classic",
  reference: "sharded",
  labels: { classic: "classic", sharded: "sharded" },
};

const ROWS: RowSpec[] = [
  { key: "cpu", label: `Redis CPU per publish, all ${MASTERS} masters (µs)`, digits: 2 },
  ...Array.from({ length: MASTERS }, (_, i) => ({
    key: `cpu.${i}`,
    label: `of which master ${i + 1} (µs)`,
    digits: 2,
  })),
  { key: "rate", label: "publishes/s (pipelined, every message received)", digits: 0 },
];

/** Measures both modes `runs` times on one cluster; resolves to the report's lines, or to a
 * single line saying why when `redis-server` or `redis-cli` is missing. */
export async function measurePubsubShards(
  { serverPlacement }: { serverPlacement: Placement },
  { runs, log }: { runs: number; log: Log },
): Promise<string[]> {
  if (!await hasCommand("redis-server") || !await hasCommand("redis-cli")) {
    return ["Sharded pub/sub: skipped, `redis-server` and `redis-cli` are not both installed."];
  }
  await using cluster = await RedisClusterProcess.start(serverPlacement, MASTERS);
  const channels = Array.from({ length: PUBSUB_CHANNELS }, (_, i) => `bench:{room-${i}}`);
  const results = new Results(COLUMNS);
  for (let run = 0; run < runs; run++) {
    const modes: Mode[] = run % 2 === 0 ? ["classic", "sharded"] : ["sharded", "classic"];
    for (const mode of modes) {
      await publishWindow({ cluster, channels, mode }, { run, results, log });
    }
  }
  return [
    `Sharded pub/sub: Redis CPU per publish on a ${MASTERS}-master Redis Cluster started by the ` +
    `benchmark, raw @redis/client connections, no Boreas; ${PUBSUB_CHANNELS} channels with one ` +
    `subscriber each, on the master that owns the channel's slot; ${PUBLISHES} publishes of ` +
    `${PAYLOAD.length} bytes a mode and run, each to its channel's master, ${PIPELINE} ` +
    `outstanding per master; ${runs} runs, medians.`,
    "",
    results.table(ROWS).markdown,
  ];
}

/** Subscribes, publishes `WARMUP_PUBLISHES` then `PUBLISHES` messages in `mode` and records
 * Redis's CPU time over the second batch, until its last message was received. */
async function publishWindow(
  { cluster, channels, mode }: { cluster: RedisClusterProcess; channels: string[]; mode: Mode },
  { run, results, log }: { run: number; results: Results<Mode>; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const connect = async (url: string) => {
    const client: Client = createClient({ url });
    await client.connect();
    stack.defer(() => client.close());
    return client;
  };
  const owners = channels.map((channel) => cluster.masterIndexOf(channel));
  const byMaster = cluster.masters.map((_, i) => channels.filter((_, c) => owners[c] === i));
  const received = new Counter();
  const listener = () => received.add();
  for (const [i, master] of cluster.masters.entries()) {
    const subscriber = await connect(master.url);
    for (const channel of byMaster[i]!) {
      await (mode === "classic"
        ? subscriber.subscribe(channel, listener)
        : subscriber.sSubscribe(channel, listener));
    }
  }
  const publishers = await Promise.all(cluster.masters.map((master) => connect(master.url)));
  const publishAll = (count: number) =>
    Promise.all(byMaster.map((owned, i) => publish(publishers[i]!, { owned, count, mode })));
  const warmupPerMaster = Math.floor(WARMUP_PUBLISHES / MASTERS);
  await publishAll(warmupPerMaster);
  await received.until(warmupPerMaster * MASTERS);
  received.reset();
  const perMaster = Math.floor(PUBLISHES / MASTERS);
  const before = await cpuSeconds(cluster.pids);
  const started = performance.now();
  await publishAll(perMaster);
  await received.until(perMaster * MASTERS);
  const seconds = (performance.now() - started) / 1000;
  const used = (await cpuSeconds(cluster.pids)).map((after, i) => after - before[i]!);
  const perPublish = (cpu: number) => cpu / (perMaster * MASTERS) * 1e6;
  const total = used.reduce((sum, cpu) => sum + cpu, 0);
  results.add(mode, "cpu", run, perPublish(total));
  used.forEach((cpu, i) => results.add(mode, `cpu.${i}`, run, perPublish(cpu)));
  results.add(mode, "rate", run, perMaster * MASTERS / seconds);
  log(
    `run ${run + 1} ${mode.padEnd(7)} pub/sub: ${
      formatNumber(perMaster * MASTERS / seconds, 0)
    } publishes/s, Redis ${formatNumber(perPublish(total), 2)} µs CPU each (masters ` +
      `${used.map((cpu) => formatNumber(perPublish(cpu), 2)).join(", ")})`,
  );
}

/** Publishes `count` messages through `client` to `owned` in turn, `PIPELINE` at a time. */
async function publish(
  client: Client,
  { owned, count, mode }: { owned: readonly string[]; count: number; mode: Mode },
): Promise<void> {
  for (let sent = 0; sent < count; sent += PIPELINE) {
    const batch = Array.from({ length: Math.min(PIPELINE, count - sent) }, (_, i) => {
      const channel = owned[(sent + i) % owned.length]!;
      return mode === "classic"
        ? client.publish(channel, PAYLOAD)
        : client.sPublish(channel, PAYLOAD);
    });
    await Promise.all(batch);
  }
}

/** Messages received so far, and a way to await a count of them. */
class Counter {
  #count = 0;
  #waiter: { target: number; resolve: () => void } | undefined;

  add(): void {
    this.#count++;
    if (this.#waiter !== undefined && this.#count >= this.#waiter.target) {
      this.#waiter.resolve();
      this.#waiter = undefined;
    }
  }

  reset(): void {
    this.#count = 0;
  }

  /** Resolves once `target` messages were received. */
  until(target: number): Promise<void> {
    if (this.#count >= target) return Promise.resolve();
    return new Promise((resolve) => this.#waiter = { target, resolve });
  }
}
