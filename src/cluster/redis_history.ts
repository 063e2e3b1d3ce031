/**
 * @module
 * Channel history in Redis, shared by every node: per channel a meta hash (`epoch`, `top`) and
 * a stream of the kept messages, both expiring `--history-ttl` after the last publish. The
 * publish script assigns the offset, keeps the message and publishes the frame in one step, so
 * every node sees the same offsets. A Redis that restarts empty has no meta: the next publish or
 * join starts a new epoch, and old positions answer `recovered: false`.
 */

import {
  type History,
  type HistoryPage,
  type KeptMessage,
  newEpoch,
  type Position,
  type Resume,
} from "../history.ts";
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";

// Shared by the scripts: the Redis time in ms, and the channel's epoch and top, created (offset
// 0, epoch ARGV[1]) when the channel has none. KEYS[1] is the meta hash, ARGV[2] the ttl.
const PRELUDE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local top = 0
if epoch then
  top = tonumber(redis.call('HGET', KEYS[1], 'top') or '0')
else
  -- A new epoch starts with an empty history, whatever an earlier one left behind.
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
`;

/** KEYS: meta, stream, the channel's node counts. ARGV: new epoch, ttl ms, size, payload JSON,
 * pub/sub channel, the channel's name as JSON. Returns [offset, epoch, counts as a flat list]. */
export const PUBLISH_SCRIPT = new RedisScript(`${PRELUDE}
top = top + 1
-- Kept first: should it fail, the offset is not used up.
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'p', ARGV[4], 't', now)
redis.call('HSET', KEYS[1], 'top', top)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local frame = '{"message": ' .. ARGV[4] .. ', "channel": ' .. ARGV[6] .. ', "offset": ' .. top .. '}'
redis.call('PUBLISH', ARGV[5], top .. ' ' .. epoch .. ' ' .. frame)
return {top, epoch, redis.call('HGETALL', KEYS[3])}
`);

// KEYS: meta, stream. ARGV: new epoch, ttl ms, since offset ('' for none), since epoch.
// Returns [top, epoch] without a since, else [top, epoch, recovered 1/0, payloads after since].
const RESUME_SCRIPT = new RedisScript(`${PRELUDE}
if ARGV[3] == '' then return {top, epoch} end
local since = tonumber(ARGV[3])
if ARGV[4] ~= epoch or since > top then return {top, epoch, 0, {}} end
if since == top then return {top, epoch, 1, {}} end
local entries = redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+')
if #entries ~= top - since then return {top, epoch, 0, {}} end
local oldest = now - tonumber(ARGV[2])
local payloads = {}
for i, entry in ipairs(entries) do
  if tonumber(entry[2][4]) <= oldest then return {top, epoch, 0, {}} end
  payloads[i] = entry[2][2]
end
return {top, epoch, 1, payloads}
`);

// KEYS: meta, stream. ARGV: new epoch, ttl ms, since, limit. Returns [top, epoch, offset,
// payload, offset, payload, ...] for the unexpired messages after since.
const READ_SCRIPT = new RedisScript(`${PRELUDE}
local oldest = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[4])
local out = {top, epoch}
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[3] .. '-0', '+')
for _, entry in ipairs(entries) do
  if #out >= 2 + 2 * limit then break end
  if tonumber(entry[2][4]) > oldest then
    out[#out + 1] = tonumber(string.match(entry[1], '^(%d+)'))
    out[#out + 1] = entry[2][2]
  end
end
return out
`);

/** History kept in the cluster's Redis. */
export class RedisHistory implements History {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #ttlMs: number;
  readonly #onPositions: (positions: ReadonlyMap<string, Position>) => void;

  /** `onPositions` is told the positions each join reports, before the join is answered. */
  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { ttlMs, onPositions = () => {} }: {
      ttlMs: number;
      onPositions?: (positions: ReadonlyMap<string, Position>) => void;
    },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#onPositions = onPositions;
  }

  async resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume> {
    const channels = [...new Set(join)];
    const answers = await this.#link.run((redis) =>
      Promise.all(channels.map((channel) => {
        const asked = since?.get(channel);
        return RESUME_SCRIPT.run(redis, this.#streamKeys(channel), [
          newEpoch(),
          this.#ttlMs,
          asked === undefined ? "" : asked.offset,
          asked?.epoch ?? "",
        ]) as Promise<[number, string, number?, string[]?]>;
      }))
    );
    const states = new Map<string, Position & { recovered?: boolean }>();
    const replay: Array<[string, KeptMessage]> = [];
    channels.forEach((channel, i) => {
      const [offset, epoch, recovered, payloads = []] = answers[i]!;
      if (recovered === undefined) {
        states.set(channel, { offset, epoch });
        return;
      }
      states.set(channel, { recovered: recovered === 1, offset, epoch });
      const first = offset - payloads.length + 1;
      payloads.forEach((payload, k) => replay.push([channel, { offset: first + k, payload }]));
    });
    this.#onPositions(states);
    return { states, replay };
  }

  async read(channel: string, since: number, limit: number): Promise<HistoryPage> {
    const answer = await this.#link.run((redis) =>
      READ_SCRIPT.run(redis, this.#streamKeys(channel), [newEpoch(), this.#ttlMs, since, limit])
    ) as Array<number | string>;
    const [offset, epoch, ...flat] = answer as [number, string, ...Array<number | string>];
    const messages: KeptMessage[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      messages.push({ offset: Number(flat[i]), payload: String(flat[i + 1]) });
    }
    return { offset, epoch, messages };
  }

  /** Extends the epoch (meta) of `channels` by a ttl: while a channel has subscribers, its
   * offsets must not start again, even after its last message expired. */
  async keepEpochs(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.#link.run(async (redis) => {
      const pipeline = redis.multi();
      for (const channel of channels) {
        pipeline.pExpire(this.#keys.historyMeta(channel), this.#ttlMs);
      }
      await pipeline.execAsPipeline();
    });
  }

  /** The offsets `channel` has after `since` in `epoch`, for a node that missed them: the
   * payloads, or null when they are not all kept (or the epoch changed). */
  async missed(channel: string, since: Position): Promise<Resume["replay"] | null> {
    const { states, replay } = await this.resume([channel], new Map([[channel, since]]));
    return states.get(channel)?.recovered === true ? replay : null;
  }

  #streamKeys(channel: string): string[] {
    return [this.#keys.historyMeta(channel), this.#keys.historyStream(channel)];
  }
}
