/**
 * @module
 * Which nodes are alive. Each node renews its entry in a sorted set scored by Redis's own clock
 * (so the nodes' clocks do not matter) about every second, with its report (counts and
 * counters) beside it; a node that stops renewing stops counting within `--node-timeout`, and
 * the next heartbeat of any node removes what it left behind. A node that shuts down says
 * goodbye at once (`RedisMembership.leave`).
 */

import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import type { RedisKeys } from "./keys.ts";
import type { NodeReport } from "./membership.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";
import LIVENESS_HEARTBEAT_LUA from "./lua/liveness_heartbeat.lua" with { type: "text" };
import LIVENESS_REAP_LUA from "./lua/liveness_reap.lua" with { type: "text" };

const HEARTBEAT_SCRIPT = new RedisScript(LIVENESS_HEARTBEAT_LUA);

const REAP_SCRIPT = new RedisScript(LIVENESS_REAP_LUA);

/** Options of `NodeLiveness`. */
export interface LivenessOptions {
  readonly nodeId: string;
  /** Seconds after which a silent node stops counting (`--node-timeout`). */
  readonly nodeTimeoutSeconds: number;
  readonly logger: Logger;
  /** What this node reports of itself with each heartbeat. */
  readonly report: () => NodeReport;
  /** The channels a dead node's connections had joined, read from its mirror. */
  readonly channelsOf: (node: string) => Promise<Set<string>>;
  /** Called when Redis did not know this node (it restarted empty, or reaped it): the node's
   * mirror must be written again. */
  readonly onForgotten: () => void;
  /** Called with a dead node's channels once its counts were removed. */
  readonly onReaped?: (channels: ReadonlySet<string>) => void;
}

/** This node's heartbeat, and what it learns of the others. */
export class NodeLiveness {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #options: LivenessOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  /** Nodes whose liveness had expired at the last heartbeat, until they are reaped. */
  #dead = new Set<string>();
  #isStopped = false;

  constructor(link: RedisLink, keys: RedisKeys, options: LivenessOptions) {
    this.#link = link;
    this.#keys = keys;
    this.#options = options;
    // Beat every second (more often for short timeouts) and expire one beat before the timeout:
    // a live node is never seen dead, and a dead one stops counting within the timeout.
    this.#timer = setInterval(() => this.beat(), this.#beatMs);
  }

  get #beatMs(): number {
    return Math.min(1000, this.#options.nodeTimeoutSeconds * 1000 / 3);
  }

  /** Whether `node` had expired at the last heartbeat. A node not yet seen is not dead: it
   * has just joined. */
  isDead(node: string): boolean {
    return this.#dead.has(node);
  }

  /** Renews this node's liveness and report, and reaps the nodes that stopped. */
  async beat(): Promise<void> {
    if (this.#isStopped || !this.#link.isReady) return;
    const { nodeId, report, logger } = this.#options;
    const keys = this.#keys;
    const timeoutMs = this.#options.nodeTimeoutSeconds * 1000;
    try {
      const [added, dead] = await this.#link.run(
        (redis) =>
          HEARTBEAT_SCRIPT.run(redis, [keys.nodes, keys.nodeCounters(nodeId)], [
            nodeId,
            Math.ceil(timeoutMs - this.#beatMs),
            JSON.stringify(report()),
            Math.ceil(timeoutMs),
          ]) as Promise<[number, string[]]>,
        { key: keys.nodes },
      );
      this.#dead = new Set(dead);
      if (added === 1) this.#options.onForgotten();
      for (const node of dead) await this.#reap(node);
    } catch (error) {
      logger.debug("cluster heartbeat failed", { error: errorMessage(error) });
    }
  }

  async #reap(node: string): Promise<void> {
    const keys = this.#keys;
    const channels = await this.#options.channelsOf(node);
    const reaped = await this.#link.run(
      (redis) =>
        REAP_SCRIPT.run(redis, [keys.nodes, keys.nodeConnections(node), keys.nodeCounters(node)], [
          node,
        ]),
      { key: keys.nodes },
    );
    if (reaped !== 1) return;
    // Each channel's counts are in the channel's own slot, so they go after the node, one
    // command each. A node back within these few milliseconds rewrites its counts anyway: it
    // finds itself forgotten at its next heartbeat.
    await Promise.all([...channels].map((channel) => {
      const key = keys.channelNodes(channel);
      return this.#link.run((redis) => redis.hDel(key, node), { key });
    }));
    this.#options.logger.info("forgot a node that stopped", { node });
    this.#options.onReaped?.(channels);
  }

  /** Stops the heartbeat. */
  stop(): void {
    this.#isStopped = true;
    clearInterval(this.#timer);
  }
}
