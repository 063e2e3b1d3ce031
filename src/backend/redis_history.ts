/**
 * @module
 * Channel history in Redis, shared by every node: per channel a meta hash (`epoch`, `top`) and
 * a stream of the kept messages, both expiring `--history-ttl` after the last publish. The
 * publish script assigns the offset, keeps the message and publishes the frame in one step, so
 * every node sees the same offsets. A channel without messages has a meta hash only while some
 * node counts subscribers of it: a join creates it, the last leave removes it. A Redis that
 * restarts empty has no meta: the next publish or join starts a new epoch, and old positions
 * answer `recovered: false`. A stream that went backwards (a failover promoted a replica that
 * lacked the last writes) is given a new epoch as soon as a position past its top shows up, in a
 * resume, a publish or a node's report, so that no offset is given out twice: the meta's `prev`
 * then says where the old epoch stood.
 */

import {
  type History,
  type HistoryPage,
  type KeptMessage,
  type Position,
  type Resume,
} from "./history.ts";
import { randomEpochDigits } from "../epoch.ts";
import { HistoryLedger } from "./history_ledger.ts";
import type { Missed } from "./catch_up.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";
import HISTORY_PRELUDE_LUA from "./lua/history_prelude.lua" with { type: "text" };
import HISTORY_PUBLISH_LUA from "./lua/history_publish.lua" with { type: "text" };
import HISTORY_RESUME_LUA from "./lua/history_resume.lua" with { type: "text" };
import HISTORY_READ_LUA from "./lua/history_read.lua" with { type: "text" };
import HISTORY_BEGAN_LUA from "./lua/history_began.lua" with { type: "text" };
import HISTORY_TRIM_LUA from "./lua/history_trim.lua" with { type: "text" };
import HISTORY_FORGET_LUA from "./lua/history_forget.lua" with { type: "text" };
import HISTORY_RENEW_LUA from "./lua/history_renew.lua" with { type: "text" };

export const PUBLISH_SCRIPT = new RedisScript(HISTORY_PRELUDE_LUA, HISTORY_PUBLISH_LUA);

const RESUME_SCRIPT = new RedisScript(HISTORY_PRELUDE_LUA, HISTORY_RESUME_LUA);

const READ_SCRIPT = new RedisScript(HISTORY_PRELUDE_LUA, HISTORY_READ_LUA);

const BEGAN_SCRIPT = new RedisScript(HISTORY_BEGAN_LUA);

const TRIM_SCRIPT = new RedisScript(HISTORY_TRIM_LUA);

const FORGET_SCRIPT = new RedisScript(HISTORY_FORGET_LUA);

const RENEW_SCRIPT = new RedisScript(HISTORY_PRELUDE_LUA, HISTORY_RENEW_LUA);

/** A resume script's answer: top, epoch, and with a since, recovered, the payloads after it, and
 * for a node the message at it. */
type ResumeAnswer = [number, string, number?, string[]?, string[]?];

/** Options of `RedisHistory`. */
export interface RedisHistoryOptions {
  /** Messages a channel's stream keeps (`--history-size`). */
  readonly size: number;
  /** Milliseconds a message is kept (`--history-ttl`). */
  readonly ttlMs: number;
  /** What the messages this node kept may cost together (`--history-max-bytes`). */
  readonly maxBytes: number;
  /** Told the positions each join reports, before the join is answered. */
  readonly onPositions?: (positions: ReadonlyMap<string, Position>) => void;
  /** The positions of a channel this node has seen (delivered or published): one past the
   * top of its epoch shows that the stream went backwards. Default: none. */
  readonly seen?: (channel: string) => readonly Position[];
}

/** History kept in the cluster's Redis. */
export class RedisHistory implements History {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #ttlMs: number;
  readonly #onPositions: (positions: ReadonlyMap<string, Position>) => void;
  readonly #seen: (channel: string) => readonly Position[];
  readonly #ledger: HistoryLedger;

  constructor(link: RedisLink, keys: RedisKeys, options: RedisHistoryOptions) {
    const { size, ttlMs, maxBytes, onPositions = () => {}, seen = () => [] } = options;
    this.#link = link;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#onPositions = onPositions;
    this.#seen = seen;
    this.#ledger = new HistoryLedger({ size, ttlMs, maxBytes });
    // Before any epoch is given out: a Redis that lost its data gets a new beginning.
    link.onReady(() => this.#began().then(() => {}, () => {}));
  }

  async resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume> {
    const channels = [...new Set(join)];
    const answers = await this.#resumeAnswers(channels, since, false);
    const states = new Map<string, Position & { recovered?: boolean }>();
    const replay: Array<[string, KeptMessage]> = [];
    channels.forEach((channel, i) => {
      const [offset, epoch, recovered, payloads = []] = answers[i]!;
      if (recovered === undefined) {
        states.set(channel, { offset, epoch });
        return;
      }
      states.set(channel, { recovered: recovered === 1, offset, epoch });
      replay.push(...replayOf(channel, offset, payloads));
    });
    this.#onPositions(states);
    return { states, replay };
  }

  /** Runs the resume script for each of `channels` (`isNode`: for a node that missed messages). */
  async #resumeAnswers(
    channels: readonly string[],
    since: ReadonlyMap<string, Position> | undefined,
    isNode: boolean,
  ): Promise<ResumeAnswer[]> {
    const isFromNothing = [...since?.values() ?? []].some(({ offset }) => offset === 0);
    const began = isFromNothing ? await this.#began() : "";
    // One command per channel: each channel's keys are in its own slot.
    return await Promise.all(channels.map((channel) => {
      const asked = since?.get(channel);
      const keys = [...this.#streamKeys(channel), this.#keys.channelNodes(channel)];
      const args = [
        randomEpochDigits(),
        this.#ttlMs,
        asked === undefined ? "" : asked.offset,
        asked?.epoch ?? "",
        began,
        isNode ? "1" : "",
        ...this.#seen(channel).flatMap(({ epoch, offset }) => [epoch, offset]),
      ];
      return this.#link.run(
        (redis) => RESUME_SCRIPT.run(redis, keys, args) as Promise<ResumeAnswer>,
        { key: keys[0]! },
      );
    }));
  }

  async read(channel: string, since: number, limit: number): Promise<HistoryPage> {
    const args = [randomEpochDigits(), this.#ttlMs, since, limit];
    const keys = this.#streamKeys(channel);
    const answer = await this.#link.run(
      (redis) => READ_SCRIPT.run(redis, keys, args),
      { key: keys[0]! },
    ) as Array<number | string>;
    const [offset, epoch, ...flat] = answer as [number, string, ...Array<number | string>];
    const messages: KeptMessage[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      messages.push(keptMessage(Number(flat[i]), String(flat[i + 1]), String(flat[i + 2])));
    }
    return { offset, epoch, messages };
  }

  /** Notes that this node kept `payload` at `position` of `channel` (`PUBLISH_SCRIPT`), and
   * trims the oldest messages it kept past `maxBytes`. */
  async kept(channel: string, position: Position, payload: string): Promise<void> {
    const trims = this.#ledger.kept(channel, position, payload);
    if (trims.size === 0) return;
    await Promise.all([...trims].map(([trimmed, { epoch, offset }]) => {
      const keys = this.#streamKeys(trimmed);
      return this.#link.run((redis) => TRIM_SCRIPT.run(redis, keys, [epoch, offset]), {
        key: keys[0]!,
      });
    }));
  }

  /** Removes the meta of those of `channels` that keep no message and that no node counts
   * subscribers of any more: call once this node's count of them is gone from Redis. */
  async forget(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    await Promise.all(channels.map((channel) => {
      const keys = [...this.#streamKeys(channel), this.#keys.channelNodes(channel)];
      return this.#link.run((redis) => FORGET_SCRIPT.run(redis, keys, []), { key: keys[0]! });
    }));
  }

  /** Extends the epoch (meta) of `channels` by a ttl: while a channel has subscribers, its
   * offsets must not start again, even after its last message expired. */
  async keepEpochs(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    // Sent together (the client writes a tick's commands at once), each to its slot's master.
    await Promise.all(channels.map((channel) => {
      const key = this.#keys.historyMeta(channel);
      return this.#link.run((redis) => redis.pExpire(key, this.#ttlMs), { key });
    }));
  }

  /** The messages `channel` has after `since`, a position this node delivered, with the one
   * kept at `since`; null when they are not all kept, or the epoch changed. A `since` past the
   * top of its epoch (the stream went backwards) starts a new epoch after it. */
  async missed(channel: string, since: Position): Promise<Missed | null> {
    const [answer] = await this.#resumeAnswers([channel], new Map([[channel, since]]), true);
    const [offset, , recovered, payloads = [], at = []] = answer!;
    if (recovered !== 1) return null;
    const replay = replayOf(channel, offset, payloads);
    if (at.length === 0) return { replay };
    return { at: keptMessage(since.offset, at[0]!, at[1]!), replay };
  }

  /** Starts a new epoch of `channel` unless it has left `after.epoch` already: this node
   * delivered `after.offset` of it and then found the stream went backwards. */
  async renew(channel: string, after: Position): Promise<void> {
    const args = [randomEpochDigits(), this.#ttlMs, after.epoch, after.offset];
    const keys = this.#streamKeys(channel);
    await this.#link.run((redis) => RENEW_SCRIPT.run(redis, keys, args), { key: keys[0]! });
  }

  /** Where the epoch before `epoch` stood when `channel` left it because its stream went
   * backwards (the meta's `prev`); null when `channel` is no longer in `epoch`, or `epoch` began
   * for another reason (the first, or after the history was lost). */
  async continues(channel: string, epoch: string): Promise<Position | null> {
    const key = this.#keys.historyMeta(channel);
    const [current, prev] = await this.#link.run((redis) => redis.hmGet(key, ["epoch", "prev"]), {
      key,
    });
    const colon = prev?.lastIndexOf(":") ?? -1;
    if (current !== epoch || prev === null || prev === undefined || colon < 0) return null;
    return { epoch: prev.slice(0, colon), offset: Number(prev.slice(colon + 1)) };
  }

  /** When this Redis's history began (`historyBegan`), set now if it was not. */
  async #began(): Promise<string> {
    const key = this.#keys.historyBegan;
    return String(await this.#link.run((redis) => BEGAN_SCRIPT.run(redis, [key], []), { key }));
  }

  #streamKeys(channel: string): string[] {
    return [this.#keys.historyMeta(channel), this.#keys.historyStream(channel)];
  }
}

/** The kept messages of `channel` a resume answered as `payloads` (payload, user, ...), the
 * last at `top`. */
function replayOf(
  channel: string,
  top: number,
  payloads: readonly string[],
): Array<[string, KeptMessage]> {
  const first = top - payloads.length / 2 + 1;
  const replay: Array<[string, KeptMessage]> = [];
  for (let k = 0; k < payloads.length; k += 2) {
    replay.push([channel, keptMessage(first + k / 2, payloads[k]!, payloads[k + 1]!)]);
  }
  return replay;
}

/** A kept message as a script answers it: the user as JSON text, or '' for none. */
function keptMessage(offset: number, payload: string, user: string): KeptMessage {
  return user === "" ? { offset, payload } : { offset, payload, user: JSON.parse(user) };
}
