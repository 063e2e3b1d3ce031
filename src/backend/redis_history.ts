/**
 * @module
 * Channel history in Redis, shared by every node: per channel a meta hash (`epoch`, `top`) and
 * a stream of the kept messages, both expiring `--history-ttl` after the last publish. The
 * publish script assigns the offset, keeps the message and publishes the frame in one step, so
 * every node sees the same offsets. A channel without messages has a meta hash only while some
 * node counts subscribers of it: a join creates it, the last leave removes it. A Redis that
 * restarts empty has no meta: the next publish or join starts a new epoch, and old positions
 * answer `recovered: false`.
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
import type { RedisKeys } from "./keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { RedisScript } from "./redis_script.ts";

// Shared by the scripts: the Redis time in ms; the channel's epoch and top (epoch false when it
// has none); `epoch_at`, an epoch begun at a time, made as `newEpoch` (epoch.ts) makes them, with
// ARGV[1]'s random digits; `start_of`, when an epoch began (nil when it does not say); and
// `begin`, which stores a new epoch. KEYS[1] is the meta hash, KEYS[2] the stream, ARGV[2] the
// ttl in ms.
const PRELUDE = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function epoch_at(ms)
  local out = ''
  for _ = 1, 11 do
    local digit = ms % 16
    out = string.sub('0123456789abcdef', digit + 1, digit + 1) .. out
    ms = (ms - digit) / 16
  end
  return out .. ARGV[1]
end
local function start_of(e)
  if #e ~= 16 or not string.match(e, '^%x+$') then return nil end
  return tonumber(string.sub(e, 1, 11), 16)
end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'top')
local epoch = meta[1]
local top = tonumber(meta[2] or '0')
local function begin()
  -- A new epoch starts with an empty history, whatever an earlier one left behind.
  epoch = epoch_at(now)
  top = 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
`;

/** KEYS: meta, stream, the channel's node counts. ARGV: random epoch digits, ttl ms, size,
 * payload JSON, pub/sub channel, the channel's name as JSON, the publisher's user as JSON (''
 * for none: an API broadcast), the mark that leaves the sender out (see RedisBroker). Returns
 * [offset, epoch, counts as a flat list]. */
export const PUBLISH_SCRIPT = new RedisScript(`${PRELUDE}
if not epoch then begin() end
top = top + 1
-- Kept first: should it fail, the offset is not used up. The user is field 'u', after 't'.
if ARGV[7] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'p', ARGV[4], 't', now)
else
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], top .. '-0', 'p', ARGV[4], 't', now, 'u', ARGV[7])
end
redis.call('HSET', KEYS[1], 'top', top)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local user = ''
if ARGV[7] ~= '' then user = ', "user": ' .. ARGV[7] end
local frame = '{"message": ' .. ARGV[4] .. ', "channel": ' .. ARGV[6] .. user .. ', "offset": ' .. top .. '}'
redis.call('PUBLISH', ARGV[5], ARGV[8] .. top .. ' ' .. epoch .. ' ' .. frame)
return {top, epoch, redis.call('HGETALL', KEYS[3])}
`);

// KEYS: meta, stream, the channel's node counts. ARGV: random epoch digits, ttl ms, since
// offset ('' for none), since epoch, when the history began (`historyBegan`). Returns [top,
// epoch] without a since, else [top, epoch, recovered 1/0, [payload, user JSON or '', ...] after
// since]. A channel
// without meta gets one only while some node counts subscribers of it; otherwise it is answered
// with a new epoch that is not stored.
const RESUME_SCRIPT = new RedisScript(`${PRELUDE}
if not epoch then
  if redis.call('EXISTS', KEYS[3]) == 1 then begin() else epoch = epoch_at(now) end
end
if ARGV[3] == '' then return {top, epoch} end
local since = tonumber(ARGV[3])
local ttl = tonumber(ARGV[2])
if ARGV[4] ~= epoch then
  -- Offset 0 of an epoch no longer kept: the client had nothing, and missed nothing if its
  -- epoch began in this Redis's history, and the channel's epoch began after it, less than a
  -- ttl later, and keeps every offset from 1 (followsWithin in epoch.ts; a trim for
  -- --history-max-bytes keeps the meta, so that its top tells what went).
  local start, begun, began = start_of(ARGV[4]), start_of(epoch), tonumber(ARGV[5])
  if since ~= 0 or not start or not begun or not began or start <= began or start > now
    or begun < start or begun - start >= ttl then
    return {top, epoch, 0, {}}
  end
end
if since > top then return {top, epoch, 0, {}} end
if since == top then return {top, epoch, 1, {}} end
local entries = redis.call('XRANGE', KEYS[2], '(' .. since .. '-0', '+')
if #entries ~= top - since then return {top, epoch, 0, {}} end
local oldest = now - ttl
local payloads = {}
for i, entry in ipairs(entries) do
  if tonumber(entry[2][4]) <= oldest then return {top, epoch, 0, {}} end
  payloads[2 * i - 1] = entry[2][2]
  payloads[2 * i] = entry[2][6] or ''
end
return {top, epoch, 1, payloads}
`);

// KEYS: meta, stream. ARGV: random epoch digits, ttl ms, since, limit. Returns [top, epoch,
// offset, payload, user JSON or '', offset, ...] for the unexpired messages after since. Stores
// nothing.
const READ_SCRIPT = new RedisScript(`${PRELUDE}
if not epoch then return {0, epoch_at(now)} end
local oldest = now - tonumber(ARGV[2])
local limit = tonumber(ARGV[4])
local out = {top, epoch}
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[3] .. '-0', '+')
for _, entry in ipairs(entries) do
  if #out >= 2 + 3 * limit then break end
  if tonumber(entry[2][4]) > oldest then
    out[#out + 1] = tonumber(string.match(entry[1], '^(%d+)'))
    out[#out + 1] = entry[2][2]
    out[#out + 1] = entry[2][6] or ''
  end
end
return out
`);

// KEYS: historyBegan. Sets it to the Redis time (ms) unless it is set; returns it.
const BEGAN_SCRIPT = new RedisScript(`
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('SET', KEYS[1], string.format('%d', now), 'NX')
return redis.call('GET', KEYS[1])
`);

// KEYS: meta, stream. ARGV: epoch, offset. Drops the epoch's messages up to the offset; the meta
// stays (until it expires), so that resumes from before them answer recovered: false.
const TRIM_SCRIPT = new RedisScript(`
if redis.call('HGET', KEYS[1], 'epoch') == ARGV[1] then
  redis.call('XTRIM', KEYS[2], 'MINID', (tonumber(ARGV[2]) + 1) .. '-0')
end
`);

// KEYS: meta, stream, the channel's node counts. Removes the meta of a channel that no node
// counts subscribers of and that keeps no stream.
const FORGET_SCRIPT = new RedisScript(`
if redis.call('EXISTS', KEYS[3]) == 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
end
`);

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
}

/** History kept in the cluster's Redis. */
export class RedisHistory implements History {
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #ttlMs: number;
  readonly #onPositions: (positions: ReadonlyMap<string, Position>) => void;
  readonly #ledger: HistoryLedger;

  constructor(link: RedisLink, keys: RedisKeys, options: RedisHistoryOptions) {
    const { size, ttlMs, maxBytes, onPositions = () => {} } = options;
    this.#link = link;
    this.#keys = keys;
    this.#ttlMs = ttlMs;
    this.#onPositions = onPositions;
    this.#ledger = new HistoryLedger({ size, ttlMs, maxBytes });
    // Before any epoch is given out: a Redis that lost its data gets a new beginning.
    link.onReady(() => this.#began().then(() => {}, () => {}));
  }

  async resume(join: readonly string[], since?: ReadonlyMap<string, Position>): Promise<Resume> {
    const channels = [...new Set(join)];
    const isFromNothing = [...since?.values() ?? []].some(({ offset }) => offset === 0);
    const began = isFromNothing ? await this.#began() : "";
    const answers = await this.#link.run((redis) =>
      Promise.all(channels.map((channel) => {
        const asked = since?.get(channel);
        const keys = [...this.#streamKeys(channel), this.#keys.channelNodes(channel)];
        return RESUME_SCRIPT.run(redis, keys, [
          randomEpochDigits(),
          this.#ttlMs,
          asked === undefined ? "" : asked.offset,
          asked?.epoch ?? "",
          began,
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
      const first = offset - payloads.length / 2 + 1;
      for (let k = 0; k < payloads.length; k += 2) {
        replay.push([channel, keptMessage(first + k / 2, payloads[k]!, payloads[k + 1]!)]);
      }
    });
    this.#onPositions(states);
    return { states, replay };
  }

  async read(channel: string, since: number, limit: number): Promise<HistoryPage> {
    const args = [randomEpochDigits(), this.#ttlMs, since, limit];
    const answer = await this.#link.run((redis) =>
      READ_SCRIPT.run(redis, this.#streamKeys(channel), args)
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
    await this.#link.run(async (redis) => {
      await Promise.all(
        [...trims].map(([trimmed, { epoch, offset }]) =>
          TRIM_SCRIPT.run(redis, this.#streamKeys(trimmed), [epoch, offset])
        ),
      );
    });
  }

  /** Removes the meta of those of `channels` that keep no message and that no node counts
   * subscribers of any more: call once this node's count of them is gone from Redis. */
  async forget(channels: readonly string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.#link.run(async (redis) => {
      await Promise.all(channels.map((channel) =>
        FORGET_SCRIPT.run(redis, [
          ...this.#streamKeys(channel),
          this.#keys.channelNodes(channel),
        ], [])
      ));
    });
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

  /** When this Redis's history began (`historyBegan`), set now if it was not. */
  async #began(): Promise<string> {
    const key = this.#keys.historyBegan;
    return String(await this.#link.run((redis) => BEGAN_SCRIPT.run(redis, [key], [])));
  }

  #streamKeys(channel: string): string[] {
    return [this.#keys.historyMeta(channel), this.#keys.historyStream(channel)];
  }
}

/** A kept message as a script answers it: the user as JSON text, or '' for none. */
function keptMessage(offset: number, payload: string, user: string): KeptMessage {
  return user === "" ? { offset, payload } : { offset, payload, user: JSON.parse(user) };
}
