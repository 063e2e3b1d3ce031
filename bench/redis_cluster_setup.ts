/**
 * @module
 * The benchmark's own Redis Cluster: `masters` redis-servers in cluster mode and no replicas,
 * each a `RedisProcess` (free loopback port, fresh temporary directory, no persistence) with a
 * free cluster bus port of its own. The slots are split evenly in order, each master gets its
 * own config epoch, and the first master meets the others; resolves once every master says
 * `cluster_state:ok` and knows them all. A cluster of one master owns every slot itself
 * (`redis-cli --cluster create` wants three).
 */

import calculateSlot from "cluster-key-slot";
import type { Placement } from "./processes.ts";
import { freePort, RedisProcess } from "./redis_process.ts";

/** Slots of a Redis Cluster. */
const SLOT_COUNT = 16_384;
const FORM_TIMEOUT_MS = 20_000;
const FORM_POLL_MS = 100;

/** A running Redis Cluster of masters only. Disposing it stops every server. */
export class RedisClusterProcess implements AsyncDisposable {
  readonly masters: readonly RedisProcess[];

  private constructor(masters: readonly RedisProcess[]) {
    this.masters = masters;
  }

  /** Every master's `127.0.0.1:PORT`, for `--redis-cluster`. */
  get seeds(): string[] {
    return this.masters.map((master) => `127.0.0.1:${master.port}`);
  }

  /** Every master's process id. */
  get pids(): number[] {
    return this.masters.map((master) => master.pid);
  }

  /** `--redis-cluster` once for each master. */
  get nodeArgs(): string[] {
    return this.seeds.flatMap((seed) => ["--redis-cluster", seed]);
  }

  /** The index in `masters` of the master that owns `key`'s slot. */
  masterIndexOf(key: string): number {
    return this.masters.findIndex((_, i) => calculateSlot(key) <= lastSlot(i, this.masters.length));
  }

  /** Starts `count` masters with `placement` and resolves once they form one cluster. */
  static async start(placement: Placement, count: number): Promise<RedisClusterProcess> {
    const masters: RedisProcess[] = [];
    const cluster = new RedisClusterProcess(masters);
    try {
      const busPorts: number[] = [];
      for (let i = 0; i < count; i++) {
        busPorts.push(freePort());
        masters.push(
          await RedisProcess.start(placement, [
            ...["--cluster-enabled", "yes", "--cluster-port", String(busPorts[i])],
            ...["--cluster-config-file", "nodes.conf"],
          ]),
        );
      }
      await Promise.all(masters.map(async (master, i) => {
        const first = i === 0 ? 0 : lastSlot(i - 1, count) + 1;
        await master.cli(["CLUSTER", "ADDSLOTSRANGE", String(first), String(lastSlot(i, count))]);
        await master.cli(["CLUSTER", "SET-CONFIG-EPOCH", String(i + 1)]);
      }));
      for (const [i, master] of masters.entries()) {
        if (i === 0) continue;
        await masters[0]!.cli(
          ["CLUSTER", "MEET", "127.0.0.1", String(master.port), String(busPorts[i])],
        );
      }
      await cluster.#untilFormed();
      return cluster;
    } catch (error) {
      await cluster[Symbol.asyncDispose]();
      throw error;
    }
  }

  async #untilFormed(): Promise<void> {
    const deadline = performance.now() + FORM_TIMEOUT_MS;
    const isFormed = (info: string) =>
      /^cluster_state:ok\r?$/m.test(info) &&
      new RegExp(`^cluster_known_nodes:${this.masters.length}\\r?$`, "m").test(info);
    while (performance.now() < deadline) {
      const infos = await Promise.all(
        this.masters.map((master) => master.cli(["CLUSTER", "INFO"])),
      );
      if (infos.every(isFormed)) return;
      await new Promise((resolve) => setTimeout(resolve, FORM_POLL_MS));
    }
    throw new Error(
      `Redis Cluster of ${this.masters.length}: not formed after ${FORM_TIMEOUT_MS / 1000} s`,
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const master of this.masters.toReversed()) await master[Symbol.asyncDispose]();
  }
}

/** The last slot master `i` of `count` owns: the slots are split evenly, in order. */
function lastSlot(i: number, count: number): number {
  return Math.floor(SLOT_COUNT * (i + 1) / count) - 1;
}
