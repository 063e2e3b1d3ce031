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
import OCCUPANCY_CROSSED_LUA from "./lua/occupancy_crossed.lua" with { type: "text" };
import OCCUPANCY_UNLIST_LUA from "./lua/occupancy_unlist.lua" with { type: "text" };
import OCCUPANCY_VACATE_LUA from "./lua/occupancy_vacate.lua" with { type: "text" };

const CROSSED_SCRIPT = new RedisScript(OCCUPANCY_CROSSED_LUA);

const VACATE_SCRIPT = new RedisScript(OCCUPANCY_VACATE_LUA);

const UNLIST_SCRIPT = new RedisScript(OCCUPANCY_UNLIST_LUA);

/** Options of `RedisOccupancy`. */
export interface RedisOccupancyOptions {
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
    const due = Date.now() + this.#options.delayMs;
    try {
      // Each channel in its own slot; the pending vacates are listed apart, in theirs.
      const answers = await Promise.all(channels.map((channel) => {
        const flags = [this.#keys.channelNodes(channel), this.#keys.occupied(channel)];
        return this.#link.run((redis) => CROSSED_SCRIPT.run(redis, flags, [due]), {
          key: flags[0]!,
        });
      }));
      const pending = channels.filter((_, i) => answers[i] === 2);
      if (pending.length > 0) {
        const key = this.#keys.vacating;
        await this.#link.run(
          (redis) => redis.zAdd(key, pending.map((channel) => ({ score: due, value: channel }))),
          { key },
        );
      }
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
      const vacated = await this.#vacateDue();
      for (const channel of vacated) this.#sink.emit({ type: "channel.vacated", channel });
    } catch {
      // Swept again at the next tick.
    }
  }

  /** Vacates the listed channels whose vacate is due and which are still empty; resolves to
   * those this node vacated (another node sweeping at once vacates the others). */
  async #vacateDue(): Promise<string[]> {
    const keys = this.#keys;
    const link = this.#link;
    const list = keys.vacating;
    const now = Date.now();
    const due = await link.run((redis) => redis.zRangeByScoreWithScores(list, "-inf", now), {
      key: list,
    });
    if (due.length === 0) return [];
    // Each channel in its own slot, the list in its own.
    const answers = await Promise.all(due.map(({ value: channel }) => {
      const flags = [keys.channelNodes(channel), keys.occupied(channel)];
      return link.run((redis) => VACATE_SCRIPT.run(redis, flags, [now]), { key: flags[0]! });
    })) as number[];
    const later = due.flatMap(({ value }, i) =>
      answers[i]! > 1 ? [{ score: answers[i]!, value }] : []
    );
    if (later.length > 0) await link.run((redis) => redis.zAdd(list, later), { key: list });
    const done = due.filter((_, i) => answers[i]! <= 1);
    if (done.length > 0) {
      const args = done.flatMap(({ value, score }) => [value, String(score)]);
      await link.run((redis) => UNLIST_SCRIPT.run(redis, [list], args), { key: list });
    }
    return due.flatMap(({ value }, i) => answers[i] === 1 ? [value] : []);
  }

  /** Stops following the hub and sweeping; `check()` still works, for the node's last
   * channels as it leaves. */
  [Symbol.dispose](): void {
    this.#isDisposed = true;
    this.#stop();
    clearInterval(this.#timer);
  }
}
