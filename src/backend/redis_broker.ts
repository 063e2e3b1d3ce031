/**
 * @module
 * Fan-out through Redis pub/sub: a broadcast is published once, already rendered, on its
 * channel's pub/sub channel, and every node subscribed to it (this one too) hands the frame to
 * its own hub. Counting the recipients and publishing are one MULTI (one script with history
 * on, which also assigns the offset and keeps the message), so the count is the cluster's at the
 * moment of the publish. A broadcast to many channels sends one script call per channel, all in
 * one pipeline.
 */

import type { Hub, Subscriber } from "../hub.ts";
import type { Metrics } from "../metrics.ts";
import { isAdapterChannel } from "../channel.ts";
import { CLOSE, renderFrame } from "../protocol.ts";
import { type Broker, deliver, type PublishOptions, type PublishResult } from "./broker.ts";
import { CatchUp } from "./catch_up.ts";
import { BackendUnavailableError } from "./errors.ts";
import type { RedisKeys } from "./keys.ts";
import { PUBLISH_SCRIPT, type RedisHistory } from "./redis_history.ts";
import type { RedisClient, RedisLink } from "./redis_link.ts";
import type { RedisMembership } from "./redis_membership.ts";
import type { Position } from "./history.ts";
import { randomEpochDigits } from "../epoch.ts";
import { RedisScript, type ScriptCall } from "./redis_script.ts";
import BROKER_FANOUT_LUA from "./lua/broker_fanout.lua" with { type: "text" };

/** History options of a broker that keeps messages. */
export interface BrokerHistory {
  readonly history: RedisHistory;
  readonly size: number;
  readonly ttlMs: number;
}

/** How long a publication's sender is remembered, waiting for its own message to come back
 * from Redis so that it can be left out; a message that never comes back is forgotten then. */
const EXCEPT_MS = 30_000;

const FANOUT_SCRIPT = new RedisScript(BROKER_FANOUT_LUA);

/** Publishes through Redis and delivers what Redis sends to this node's hub. */
export class RedisBroker implements Broker {
  // Publications whose sender is on this node, by the id their message carries back:
  // `!<id> ` before the message, where the id is this broker's tag and a counter.
  // Held weakly: a mark whose message never comes back (a join that published nothing, say)
  // must not keep a closed session alive until the next mark sweeps it.
  readonly #senders = new Map<string, { subscriber: WeakRef<Subscriber>; at: number }>();
  // Subscribers of this node named by `name`: `!=<name> ` before a message leaves one out
  // on whichever node has it.
  readonly #named = new Map<string, Subscriber>();
  readonly #tag = crypto.randomUUID().slice(0, 8);
  #sent = 0;
  readonly #link: RedisLink;
  readonly #keys: RedisKeys;
  readonly #membership: RedisMembership;
  readonly #history: BrokerHistory | null;
  readonly #catchUp: CatchUp | null;

  constructor(
    link: RedisLink,
    keys: RedisKeys,
    { hub, metrics, membership, history = null }: {
      hub: Hub;
      metrics: Metrics;
      membership: RedisMembership;
      history?: BrokerHistory | null;
    },
  ) {
    this.#link = link;
    this.#keys = keys;
    this.#membership = membership;
    this.#history = history;
    const catchUp = history === null ? null : new CatchUp({
      deliver: (channel, frame, offset, except) =>
        deliver(hub, metrics, channel, frame, { offset, except }),
      render: (channel, message) =>
        renderFrame(channel, message.payload, message.offset, message.user),
      missed: (channel, since) => history.history.missed(channel, since),
      renew: (channel, after) => history.history.renew(channel, after),
      continues: (channel, epoch) => history.history.continues(channel, epoch),
      giveUp: (channel) =>
        hub.disconnectChannel(channel, CLOSE.resumeRequired.code, CLOSE.resumeRequired.reason),
      members: (channel) => hub.memberCount(channel),
    });
    this.#catchUp = catchUp;
    if (catchUp !== null) {
      link.onInterruption(() => catchUp.interrupt(), () => catchUp.resume());
      hub.onChange(({ channels }) => {
        for (const channel of channels) {
          if (hub.memberCount(channel) === 0) catchUp.forget(channel);
        }
      });
    }
    link.onMessage((pubsubChannel, marked) => {
      const channel = keys.channelOf(pubsubChannel);
      if (channel === null) return;
      const { message, except } = this.#unmark(marked);
      // With history on, `<offset> <epoch> <frame>`; without, the frame alone.
      if (catchUp === null || message.startsWith("{")) {
        deliver(hub, metrics, channel, message, { except });
        return;
      }
      const first = message.indexOf(" ");
      const second = message.indexOf(" ", first + 1);
      const offset = Number(message.slice(0, first));
      const epoch = message.slice(first + 1, second);
      catchUp.receive(channel, { offset, epoch, frame: message.slice(second + 1), except });
    });
  }

  /** Takes the positions a join reported as where this node stands in those channels, for
   * the channels it did not follow yet (with history on). */
  follow(positions: ReadonlyMap<string, Position>): void {
    for (const [channel, position] of positions) this.#catchUp?.follow(channel, position);
  }

  async publish(
    channel: string,
    payload: string,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    // A node that cannot hear Redis would count its own subscribers and then miss the frame.
    const problem = this.#link.problems()[0];
    if (problem !== undefined) throw new BackendUnavailableError("redis", problem);
    // An adapter's channels (a Pusher app's) have no history to resume from.
    if (this.#history !== null && !isAdapterChannel(channel)) {
      return await this.#publishKept(channel, payload, { ...this.#history, ...options });
    }
    const keys = this.#keys;
    const nodesKey = keys.channelNodes(channel);
    const frame = this.#mark(options.except, options.exceptName) +
      renderFrame(channel, payload, undefined, options.user);
    const flat = await this.#link.run((redis) =>
      countAndPublish(redis, {
        nodesKey,
        pubsubChannel: keys.broadcastChannel(channel),
        frame,
        // Sharded pub/sub (Redis Cluster) sends it through the channel's own slot.
        publishCommand: this.#link.publishCommand,
      }), { key: nodesKey });
    return { recipients: this.#sumLive(flat) };
  }

  async publishMany(
    channels: readonly string[],
    payload: string,
  ): Promise<ReadonlyMap<string, PublishResult>> {
    const problem = this.#link.problems()[0];
    if (problem !== undefined) throw new BackendUnavailableError("redis", problem);
    const distinct = [...new Set(channels)];
    // One script call per channel, all sent in one pipeline: one round trip. Not one script
    // or one MULTI over every channel: a channel's keys share a Redis Cluster slot (`{name}`),
    // different channels' do not. Each channel is counted at the moment of its own publish,
    // as by `publish`.
    const history = this.#history;
    const script = history === null ? FANOUT_SCRIPT : PUBLISH_SCRIPT;
    const calls = distinct.map((channel) =>
      history === null
        ? this.#fanoutCall(channel, payload)
        : this.#keptCall(channel, payload, { ...history })
    );
    const replies = await this.#link.runEach(script, calls);
    const results = new Map(distinct.map((channel, i): [string, PublishResult] => {
      if (history === null) return [channel, { recipients: this.#sumLive(replies[i] as string[]) }];
      const [offset, epoch, flat] = replies[i] as [number, string, string[]];
      return [channel, { recipients: this.#sumLive(flat), position: { offset, epoch } }];
    }));
    if (history !== null) {
      for (const [channel, { position }] of results) this.#catchUp?.published(channel, position!);
      // Sent: a failed trim leaves older messages kept until they expire.
      for (const [channel, { position }] of results) {
        await history.history.kept(channel, position!, payload).catch(() => {});
      }
    }
    return results;
  }

  #fanoutCall(channel: string, payload: string): ScriptCall {
    const keys = this.#keys;
    return {
      keys: [keys.channelNodes(channel)],
      args: [
        keys.broadcastChannel(channel),
        renderFrame(channel, payload),
        this.#link.publishCommand,
      ],
    };
  }

  #keptCall(
    channel: string,
    payload: string,
    { size, ttlMs, user, except, exceptName }: BrokerHistory & PublishOptions,
  ): ScriptCall {
    const keys = this.#keys;
    return {
      keys: [keys.historyMeta(channel), keys.historyStream(channel), keys.channelNodes(channel)],
      args: [
        randomEpochDigits(),
        ttlMs,
        size,
        payload,
        keys.broadcastChannel(channel),
        JSON.stringify(channel),
        user === undefined || user === null ? "" : JSON.stringify(user),
        this.#mark(except, exceptName),
        this.#link.publishCommand,
        // Where this node stands: a top below it means the stream went backwards.
        ...this.seen(channel).flatMap(({ epoch, offset }) => [epoch, offset]),
      ],
    };
  }

  /** The live recipients of a node-count hash read as a flat list (field, value, ...). */
  #sumLive(flat: readonly string[]): number {
    return this.#membership.sumLivePairs(flat);
  }

  /** The text to put before a frame published on a channel's pub/sub channel (by a script,
   * say) so that this node leaves `except` out when it comes back. */
  exceptMark(except: Subscriber): string {
    return this.#mark(except);
  }

  /** The positions of `channel` this node has seen, delivered or published (none with
   * history off). */
  seen(channel: string): Position[] {
    return this.#catchUp?.seen(channel) ?? [];
  }

  name(name: string, subscriber: Subscriber): void {
    this.#named.set(name, subscriber);
  }

  unname(name: string): void {
    this.#named.delete(name);
  }

  /** The mark that makes this node leave `except` out when the message comes back, or else
   * the node that has the subscriber named `exceptName` leave that one out. */
  #mark(except: Subscriber | undefined, exceptName?: string): string {
    if (except === undefined) return exceptName === undefined ? "" : `!=${exceptName} `;
    const now = Date.now();
    for (const [id, { at }] of this.#senders) {
      if (now - at < EXCEPT_MS) break;
      this.#senders.delete(id);
    }
    const id = `${this.#tag}.${++this.#sent}`;
    this.#senders.set(id, { subscriber: new WeakRef(except), at: now });
    return `!${id} `;
  }

  /** A message without its mark, and the subscriber of this node the mark leaves out. */
  #unmark(marked: string): { message: string; except?: Subscriber | undefined } {
    if (!marked.startsWith("!")) return { message: marked };
    const space = marked.indexOf(" ");
    const id = marked.slice(1, space);
    if (id.startsWith("=")) {
      return { message: marked.slice(space + 1), except: this.#named.get(id.slice(1)) };
    }
    const sender = this.#senders.get(id);
    this.#senders.delete(id);
    return { message: marked.slice(space + 1), except: sender?.subscriber.deref() };
  }

  async #publishKept(
    channel: string,
    payload: string,
    options: BrokerHistory & PublishOptions,
  ): Promise<PublishResult> {
    const { keys, args } = this.#keptCall(channel, payload, options);
    const [offset, epoch, flat] = await this.#link.run(
      (redis) => PUBLISH_SCRIPT.run(redis, keys, args),
      { key: keys[0]! },
    ) as [number, string, string[]];
    this.#catchUp?.published(channel, { offset, epoch });
    // Sent: a failed trim leaves older messages kept until they expire, and must not say the
    // publish failed.
    await options.history.kept(channel, { offset, epoch }, payload).catch(() => {});
    return { recipients: this.#sumLive(flat), position: { offset, epoch } };
  }
}

/** A MULTI of HGETALL of a channel's node counts and PUBLISH (or SPUBLISH) of `frame`; resolves to the
 * counts as a flat list (field, value, ...). The four commands go as raw commands queued in one
 * tick, so written together and in order, as one chain: the client's `multi()` builds a
 * command object and parses each command's arguments, which cost this node more than the
 * commands do, on the path every broadcast takes. Not a script: a script costs Redis, the
 * one process every node shares, about 3 µs more a call than this MULTI. */
async function countAndPublish(
  redis: RedisClient,
  { nodesKey, pubsubChannel, frame, publishCommand }: {
    nodesKey: string;
    pubsubChannel: string;
    frame: string;
    publishCommand: "PUBLISH" | "SPUBLISH";
  },
): Promise<string[]> {
  const chainId = Symbol("publish");
  const [, , , exec] = await Promise.all([
    redis.sendCommand(["MULTI"], { chainId }),
    redis.sendCommand(["HGETALL", nodesKey], { chainId }),
    redis.sendCommand([publishCommand, pubsubChannel, frame], { chainId }),
    redis.sendCommand<unknown[] | null>(["EXEC"], { chainId }),
  ]);
  const counts = exec?.[0];
  if (!Array.isArray(counts)) {
    throw new Error(`publish: unexpected EXEC reply ${String(exec)}`);
  }
  return counts as string[];
}
