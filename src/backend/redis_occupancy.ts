/**
 * @module
 * `channel.occupied` and `channel.vacated` for the whole cluster, each sent by one node only.
 * When a node's own count of a channel crosses zero, a script looks at every node's count: the
 * node that finds the cluster's first subscriber (and the channel not yet announced) sends
 * occupied; the one that finds none left puts the channel in a sorted set of pending vacates,
 * due after `--webhook-vacate-delay`. Every node sweeps that set; the script hands each due
 * channel to one of them, which sends vacated unless a subscriber came back. A dead node's
 * channels join the set when its counts are reaped.
 */

import type { Hub } from "../hub.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import type { EventSink } from "../webhooks/events.ts";
import type { RedisKeys } from "./keys.ts";
import type { Occupancy } from "./occupancy.ts";
import type { RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";
import { RedisScript } from "./redis_script.ts";

// KEYS: the channel's node counts, its occupied flag, the pending vacates. ARGV: channel, when
// a vacate would be due (ms). Returns 1 when this call made the channel occupied.
const CROSSED_SCRIPT = new RedisScript(`
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(count) end
if total > 0 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return redis.call('SETNX', KEYS[2], 1)
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1]) end
return 0
`);

// KEYS: the pending vacates. ARGV: now (ms), the key prefix. Returns the channels this call
// found vacated: due, still empty, and announced occupied.
const SWEEP_SCRIPT = new RedisScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local vacated = {}
for _, channel in ipairs(due) do
  redis.call('ZREM', KEYS[1], channel)
  local tag = ARGV[2] .. ':{' .. channel .. '}'
  if #redis.call('HVALS', tag .. ':nodes') == 0 and redis.call('DEL', tag .. ':occupied') == 1 then
    vacated[#vacated + 1] = channel
  end
end
return vacated
`);

/** Options of `RedisOccupancy`. */
export interface RedisOccupancyOptions {
  readonly prefix: string;
  readonly delayMs: number;
  readonly logger: Logger;
}

/** Cluster-wide occupied and vacated events. */
export class RedisOccupancy implements Occupancy {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #sink: EventSink;
  readonly #options: RedisOccupancyOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #stop: () => void;
  readonly #hub: Hub;
  /** Channels whose check failed (Redis was down): checked again once it is back. */
  readonly #unsure = new Set<string>();
  #isDisposed = false;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, membership, sink, options }: {
      hub: Hub;
      membership: RedisMembership;
      sink: EventSink;
      options: RedisOccupancyOptions;
    },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#sink = sink;
    this.#options = options;
    this.#hub = hub;
    const counts = new Map<string, number>();
    this.#stop = hub.onChange(({ channels }) => {
      const crossed = channels.filter((channel) => {
        const before = counts.get(channel) ?? 0;
        const after = hub.memberCount(channel);
        if (after === 0) counts.delete(channel);
        else counts.set(channel, after);
        return (before === 0) !== (after === 0);
      });
      // Once the node's own count is in Redis, look at the cluster's. A node that is leaving
      // writes its counts only as it leaves; it checks what it left then.
      if (crossed.length > 0) {
        membership.synced().then(() => this.#isDisposed ? undefined : this.check(crossed));
      }
    });
    membership.onReaped((channels) => this.check([...channels]));
    // Back after Redis was unreachable, or lost its data: what changed meanwhile is checked.
    const recheck = () =>
      membership.synced().then(() => this.#isDisposed ? undefined : this.#recheck());
    link.onReady(recheck);
    membership.onRewritten(recheck);
    this.#timer = setInterval(
      () => this.#sweep(),
      Math.max(100, Math.min(1000, options.delayMs / 4)),
    );
  }

  /** Looks at `channels`' counts across the cluster, for occupied or a vacate to come. */
  async check(channels: readonly string[]): Promise<void> {
    const keys = this.#keys;
    const due = Date.now() + this.#options.delayMs;
    try {
      const answers = await this.#link.run((redis) =>
        Promise.all(channels.map((channel) =>
          CROSSED_SCRIPT.run(redis, [
            keys.channelNodes(channel),
            keys.occupied(channel),
            keys.vacating,
          ], [channel, due])
        ))
      );
      channels.forEach((channel, i) => {
        if (answers[i] === 1) this.#sink.emit({ type: "channel.occupied", channel });
      });
    } catch (error) {
      for (const channel of channels) this.#unsure.add(channel);
      this.#options.logger.warn("channel occupancy not checked; checking again on reconnect", {
        error: errorMessage(error),
      });
    }
  }

  #recheck(): Promise<void> {
    const channels = new Set(this.#unsure);
    this.#unsure.clear();
    for (const [channel] of this.#hub.snapshot().channels) channels.add(channel);
    return channels.size === 0 ? Promise.resolve() : this.check([...channels]);
  }

  async #sweep(): Promise<void> {
    if (!this.#link.isReady) return;
    try {
      const vacated = await this.#link.run((redis) =>
        SWEEP_SCRIPT.run(redis, [this.#keys.vacating], [Date.now(), this.#options.prefix])
      ) as string[];
      for (const channel of vacated) this.#sink.emit({ type: "channel.vacated", channel });
    } catch {
      // Swept again at the next tick.
    }
  }

  /** Stops following the hub and sweeping; `check()` still works, for the node's last
   * channels as it leaves. */
  [Symbol.dispose](): void {
    this.#isDisposed = true;
    this.#stop();
    clearInterval(this.#timer);
  }
}
