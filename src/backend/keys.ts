/**
 * @module
 * The names of every Redis key and pub/sub channel a cluster uses, all starting with its
 * `--redis-prefix`: the one place their shapes are defined. Keys that one script or MULTI
 * touches together share a hash tag, so that they fall in one Redis Cluster slot: a Boreas
 * channel's keys carry its name (`{name}`), the tokens' keys `{tokens}`, and the live nodes'
 * records `{nodes}` (the nodes' lists of channels with members among them). Pure.
 */

/** Key and channel names for one cluster prefix. */
export class RedisKeys {
  readonly #prefix: string;
  readonly #isSharded: boolean;

  /** `prefix` holds no `{`, `}` or `:` (the config checks it). With `isSharded` (Redis
   * Cluster), every pub/sub channel carries a hash tag too, so that sharded pub/sub sends it
   * through the slot of the keys it goes with. */
  constructor(prefix: string, { isSharded = false }: { isSharded?: boolean } = {}) {
    this.#prefix = prefix;
    this.#isSharded = isSharded;
  }

  /** Whether the pub/sub channels are sharded ones (Redis Cluster). */
  get isSharded(): boolean {
    return this.#isSharded;
  }

  /** Sorted set of live nodes, scored by the Redis time (ms) each expires at. */
  get nodes(): string {
    return `${this.#prefix}:{nodes}`;
  }

  /** Sorted set of the tokens that may authenticate, scored by when they were added (ms). */
  get tokens(): string {
    return `${this.#prefix}:{tokens}`;
  }

  /** Set of the tokens that came from a `--tokens-file` or `--tokens-url`. */
  get providedTokens(): string {
    return `${this.#prefix}:{tokens}:provided`;
  }

  /** Hash of token → its grant's JSON, for tokens minted with grants. */
  get tokenGrants(): string {
    return `${this.#prefix}:{tokens}:grants`;
  }

  /** Sorted set of the tokens that expire, scored by when (Unix seconds). */
  get expiringTokens(): string {
    return `${this.#prefix}:{tokens}:expiring`;
  }

  /** Sorted set of revoked tokens, scored by revocation time (ms); provider tokens score
   * `+inf` and stay, so that a node restarting with the same file cannot bring them back. */
  get revokedTokens(): string {
    return `${this.#prefix}:{tokens}:revoked`;
  }

  /** Hash of node id → how many of that node's connections joined `channel`. */
  channelNodes(channel: string): string {
    return `${this.#prefix}:{${channel}}:nodes`;
  }

  /** Set (to 1) while `channel` is announced occupied to the webhooks. */
  occupied(channel: string): string {
    return `${this.#prefix}:{${channel}}:occupied`;
  }

  /** Sorted set of the channels whose `channel.vacated` is pending, scored by when it is due
   * (ms). */
  get vacating(): string {
    return `${this.#prefix}:webhooks:vacating`;
  }

  /** String: when this Redis's history began (Redis time, ms), set by the first node to find
   * it missing. An epoch that began before it may have lost messages without a trace (Redis
   * restarted empty, or was flushed). */
  get historyBegan(): string {
    return `${this.#prefix}:history:began`;
  }

  /** The token keys of Boreas 0.1, before they shared the `{tokens}` slot, each with the key
   * that replaced it: a node renames those it finds (see redis_key_migration.ts). */
  get legacyTokenKeys(): ReadonlyArray<readonly [legacy: string, current: string]> {
    const p = this.#prefix;
    return [
      [`${p}:tokens`, this.tokens],
      [`${p}:tokens:provided`, this.providedTokens],
      [`${p}:tokens:grants`, this.tokenGrants],
      [`${p}:tokens:expiring`, this.expiringTokens],
      [`${p}:tokens:revoked`, this.revokedTokens],
    ];
  }

  /** The `SCAN` pattern of Boreas 0.1's sets of a user's tokens, and the user a key of it
   * names (null for another key). */
  get legacyUserTokens(): { pattern: string; userOf: (key: string) => string | null } {
    return legacyPattern(`${this.#prefix}:user:{`, "}:tokens");
  }

  /** Set of the tokens whose grant names `user` (some may have expired or been revoked since:
   * they are removed as that is noticed). */
  userTokens(user: string): string {
    const [before, after] = this.userTokensAround;
    return `${before}${user}${after}`;
  }

  /** What comes before and after the user in `userTokens(user)`, for the scripts that find
   * the user in a token's grant. The user's set shares the tokens' slot, so that it changes in
   * the same script as the token. */
  get userTokensAround(): readonly [before: string, after: string] {
    return [`${this.#prefix}:{tokens}:user:`, ""];
  }

  /** String holding `user`'s block (`{"expires_at": N | null}`) while it lasts: it expires with
   * the block. Every user's block shares the `{users}` slot with `userChanges`, so that a
   * block and its announcement are one MULTI, and the blocks of many users one read. */
  userBlock(user: string): string {
    return `${this.#prefix}:{users}:${user}:block`;
  }

  /** The `SCAN` pattern of Boreas 0.1's blocks, and the user a key of it names (null for
   * another key). */
  get legacyUserBlocks(): { pattern: string; userOf: (key: string) => string | null } {
    return legacyPattern(`${this.#prefix}:user:{`, "}:block");
  }

  /** Hash of user → on how many nodes the user has a connection in `channel` (one with join
   * and leave events, or a Pusher presence channel), `0` while their `left` is pending: the
   * channel's members. */
  members(channel: string): string {
    return `${this.#prefix}:{${channel}}:members`;
  }

  /** Hash of user → their info (a Pusher member's JSON), for the members of `channel` whose
   * format keeps one. */
  memberInfos(channel: string): string {
    return `${this.#prefix}:{${channel}}:infos`;
  }

  /** Hash of user → their pending `left` (the JSON of `{"channel", "user", "frame"}`), for the
   * members of `channel` with a connection on `node`: what to send if the node dies. */
  nodeMembers(channel: string, node: string): string {
    return `${this.#prefix}:{${channel}}:users:${node}`;
  }

  /** Sorted set of the members of `channel` whose `left` is pending, scored by when it is due
   * (Redis time, ms). */
  leavingMembers(channel: string): string {
    return `${this.#prefix}:{${channel}}:leaving`;
  }

  /** Hash of user → their pending `left` (as in `nodeMembers`), for the members of `channel`
   * listed in `leavingMembers`. */
  leftFrames(channel: string): string {
    return `${this.#prefix}:{${channel}}:lefts`;
  }

  /** Set of the channels in which `node` has members of `kind` (`""`: `--join-leave`'s,
   * `":pusher"`: Pusher presence channels'). In the nodes' slot, so that the reaper reads it
   * and the live nodes in one script. */
  memberChannels(node: string, kind = ""): string {
    return `${this.#prefix}:{nodes}:${node}:members${kind}`;
  }

  /** Set of the nodes that may have members of `kind` somewhere, for reaping those that died.
   * No node's key ends this way: a node's id holds no `:`. */
  memberNodes(kind = ""): string {
    return `${this.#prefix}:{nodes}:members${kind}`;
  }

  /** Sorted set of the channels with pending `left`s of members of `kind`, scored by when their
   * first is due (Redis time, ms), or earlier: the index every node sweeps, channel by channel.
   * In its own slot. */
  leavingChannels(kind = ""): string {
    return `${this.#prefix}:members${kind}:due`;
  }

  /** The members' keys of Boreas 0.1 for `kind`, which spread one script over several slots:
   * the pending lefts of every channel in one sorted set (of `{"channel", "user", "frame"}`), the
   * nodes with members, and each node's channels. A node moves what it finds of them into
   * today's keys (see redis_members_migration.ts). */
  legacyMemberKeys(kind = ""): {
    leaving: string;
    nodes: string;
    channelsOf: (node: string) => string;
  } {
    const p = this.#prefix;
    return {
      leaving: `${p}:members${kind}:leaving`,
      nodes: `${p}:members${kind}:nodes`,
      channelsOf: (node) => `${p}:node:{${node}}:members${kind}`,
    };
  }

  /** String: the last frame sent on `channel` (a Pusher `cache-` channel), expiring with it. */
  lastFrame(channel: string): string {
    return `${this.#prefix}:{${channel}}:last`;
  }

  /** Hash of `channel`'s history: its `epoch`, `top` (last offset given out), and `prev`
   * (where the epoch before it stood, when it replaced one that went backwards). */
  historyMeta(channel: string): string {
    return `${this.#prefix}:{${channel}}:meta`;
  }

  /** Stream of `channel`'s kept messages: entry id `<offset>-0`, fields `p` (the payload's JSON
   * text) and `t` (when it was published, Redis time in ms). */
  historyStream(channel: string): string {
    return `${this.#prefix}:{${channel}}:history`;
  }

  /** Hash of connection id → `[token, [channels]]` for every open connection of `node`. */
  nodeConnections(node: string): string {
    return `${this.#prefix}:{nodes}:${node}:connections`;
  }

  /** JSON of `node`'s report (its connections, channels and counters), rewritten at each of
   * its heartbeats. */
  nodeCounters(node: string): string {
    return `${this.#prefix}:{nodes}:${node}:counters`;
  }

  /** The pub/sub channel carrying `channel`'s broadcasts, as `PUBSUB CHANNELS` (sharded:
   * `PUBSUB SHARDCHANNELS`) shows it. */
  broadcastChannel(channel: string): string {
    return this.#isSharded ? `${this.#prefix}:{${channel}}` : `${this.#prefix}:${channel}`;
  }

  /** The Boreas channel of a broadcast pub/sub channel, or null for another pub/sub channel. */
  channelOf(pubsubChannel: string): string | null {
    const start = this.#isSharded ? `${this.#prefix}:{` : `${this.#prefix}:`;
    if (!pubsubChannel.startsWith(start)) return null;
    return this.#isSharded
      ? pubsubChannel.slice(start.length, -1)
      : pubsubChannel.slice(start.length);
  }

  /** The pub/sub channel that tells every node a token was revoked. A `!` instead of `:`, so
   * that no Boreas channel's name can collide with it; sharded, in the tokens' slot, where
   * the revocation publishes it. */
  get revocations(): string {
    return this.#isSharded ? `${this.#prefix}!revoked{tokens}` : `${this.#prefix}!revoked`;
  }

  /** The pub/sub channel that tells every node to close a user's connections, and that a user
   * was blocked or unblocked; sharded, in the blocks' slot. */
  get userChanges(): string {
    return this.#isSharded ? `${this.#prefix}!users{users}` : `${this.#prefix}!users`;
  }

  /** The pub/sub channel `node` sends its own liveness pings to; sharded, each master of the
   * cluster has its own, tagged with `tag` (a hash tag in that master's slots). */
  pings(node: string, tag?: string): string {
    return tag === undefined
      ? `${this.#prefix}!ping:${node}`
      : `${this.#prefix}!ping:${node}{${tag}}`;
  }
}

/** A `SCAN` pattern of keys made of `before`, a user and `after`, and the user of such a key. */
function legacyPattern(
  before: string,
  after: string,
): { pattern: string; userOf: (key: string) => string | null } {
  return {
    pattern: `${before}*${after}`,
    userOf: (key) =>
      key.startsWith(before) && key.endsWith(after)
        ? key.slice(before.length, key.length - after.length)
        : null,
  };
}
