/**
 * @module
 * The node's two connections to the Redis master (redis_connection.ts), one for commands and
 * one for pub/sub, and what is wrong with them. Commands fail at once while Redis is
 * unreachable (no offline queue), so callers can answer 503. A ping the node publishes to
 * itself every second proves that the subscription still delivers; one that stops arriving
 * (an open but wedged connection) makes the link degraded and reconnects it.
 *
 * With Sentinel, each connection asks the sentinels for the master before it connects, and is
 * used only once the server it reached says `ROLE` master. The client's own Sentinel client
 * (`createSentinel`) is not used: it queues commands while it rediscovers the master (up to 16
 * tries, a second apart) where the node must answer 503 at once, prints its reconnection errors
 * on stdout, and resubscribes behind its caller's back, where the node must know when its
 * subscription was lost and proven again (history fills the gap, missed revocations are
 * replayed). Here a failover is one more reconnection: the old master dies or drops its
 * clients, and each connection asks the sentinels again after its back-off. A server that
 * answers `READONLY` or `MASTERDOWN` (a demoted master), that the sentinels no longer name
 * (asked every second), or that is not where the other connection is, is left for the
 * master the sentinels name. So no write goes to a replica, and the subscription always
 * listens where the commands publish.
 */

import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import { hostPort } from "../address.ts";
import { CommandTimeout, CommandWatchdog } from "./command_watchdog.ts";
import { BackendUnavailableError } from "./errors.ts";
import {
  type RedisClient,
  RedisConnection,
  type RedisConnectionOptions,
  type RedisTarget,
} from "./redis_connection.ts";
import { SentinelLocator } from "./redis_sentinel.ts";
import { bySlot } from "./redis_cluster_slots.ts";
import type { MessageListener, ReadyListener, RedisLink, RunOptions } from "./redis_link.ts";
import type { RedisScript, ScriptCall } from "./redis_script.ts";
import { LinkEvents } from "./redis_link_events.ts";

/** What a link needs to know. */
export interface RedisLinkOptions {
  readonly target: RedisTarget;
  /** The pub/sub channel this node's liveness pings go to. */
  readonly pingChannel: string;
  /** The name both connections give themselves (`CLIENT SETNAME`), e.g. `boreas:node-a`. */
  readonly clientName: string;
  readonly logger: Logger;
  /** How long a command may take before it fails, in milliseconds. Default 2000. */
  readonly commandTimeoutMs?: number;
  /** How often the subscription is proven alive, in milliseconds. Default 1000. */
  readonly pingIntervalMs?: number;
  /** Missed ping intervals after which the subscription counts as wedged. Default 3. */
  readonly missedPings?: number;
  /** Sharded pub/sub (`SSUBSCRIBE`, `SPUBLISH`), for one master of a Redis Cluster: every
   * channel subscribed, the ping channel too, must be in that master's slots. Default false. */
  readonly isSharded?: boolean;
  /** Whether the master has replicas, whose acknowledgement `run({ replicated })` waits for;
   * asked at each such write, so replicas that appear later are waited for. Default: with
   * Sentinel. */
  readonly hasReplicas?: () => boolean;
  /** Sharded: told of each channel the server unsubscribed this node from (its slot moved to
   * another master); it is no longer subscribed here. */
  readonly onDropped?: (channel: string) => void;
}

/** Replies that say the server is no master any more: a demoted master, or a replica cut off
 * from its master. */
const NOT_MASTER = /^(READONLY|MASTERDOWN)\b/;

/** Two connections to the one Redis master, and what is wrong with them. */
export class RedisMasterLink implements RedisLink {
  readonly #options: Required<Omit<RedisLinkOptions, "logger" | "onDropped">> & {
    logger: Logger;
    onDropped?: ((channel: string) => void) | undefined;
  };
  readonly #sentinels: SentinelLocator | null;
  readonly #secrets: string[];
  readonly #commands: RedisConnection;
  readonly #subscriber: RedisConnection;
  readonly #wanted = new Set<string>();
  readonly #events: LinkEvents;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #watchdog: CommandWatchdog;
  // One function for every channel: the client keeps a set of listeners per channel, so
  // subscribing a channel again does not deliver its messages twice.
  readonly #onMessage = (message: string, channel: string) => this.#dispatch(channel, message);
  #lastError = "connecting";
  #isSubscribed = false;
  #lastPingAt = 0;
  #subscribedAt = 0;
  #isWedged = false;
  #isStuck = false;
  #isCheckingMaster = false;
  #isClosed = false;

  constructor(options: RedisLinkOptions) {
    this.#options = {
      commandTimeoutMs: 2000,
      pingIntervalMs: 1000,
      missedPings: 3,
      isSharded: false,
      hasReplicas: () => !("url" in options.target),
      ...options,
    };
    const { target, commandTimeoutMs, clientName, logger } = this.#options;
    this.#events = new LinkEvents(logger, (message) => this.#redact(message));
    this.#watchdog = new CommandWatchdog(commandTimeoutMs);
    if ("url" in target) {
      this.#sentinels = null;
      this.#secrets = [decodeURIComponent(new URL(target.url).password)];
    } else {
      this.#sentinels = new SentinelLocator({ ...target.sentinel, timeoutMs: commandTimeoutMs });
      this.#secrets = [target.password ?? "", target.sentinel.password ?? ""];
    }
    this.#secrets = this.#secrets.filter((secret) => secret !== "");
    const common: Omit<RedisConnectionOptions, "name" | "onReady" | "onFailed"> = {
      target,
      sentinels: this.#sentinels,
      clientName,
      timeoutMs: commandTimeoutMs,
      logger,
      redact: (message) => this.#redact(message),
    };
    this.#commands = new RedisConnection({
      ...common,
      name: "commands",
      onReady: (_, address) => this.#onCommandsReady(address),
      onFailed: (message) => this.#lastError = message,
    });
    this.#subscriber = new RedisConnection({
      ...common,
      name: "subscriber",
      onReady: (client, address) => this.#onSubscriberReady(client, address),
      onFailed: (message) => {
        this.#lastError = message;
        this.#interrupt();
      },
    });
    this.#timer = setInterval(() => this.#ping(), this.#options.pingIntervalMs);
  }

  /** What is wrong, one `redis: ...` message each; empty when both connections work and the
   * subscription delivers. */
  problems(): string[] {
    // Until a ping comes through the replacement, the wedge is what is wrong.
    if (this.#isWedged) return ["redis: the subscription stopped delivering messages"];
    if (this.#commands.client === null || this.#subscriber.client === null || this.#isStuck) {
      return [`redis: ${this.#lastError}`];
    }
    if (!this.#isSubscribed) return ["redis: subscribing"];
    return [];
  }

  /** Whether commands can be sent now. */
  get isReady(): boolean {
    return this.#commands.client !== null;
  }

  /** `host:port` of the server the commands go to (with Sentinel, the master it named), or
   * null while there is none. */
  get address(): string | null {
    return this.#commands.address;
  }

  /** Runs `command` on the command connection; any failure becomes a
   * `BackendUnavailableError`. */
  async run<T>(
    command: (redis: RedisClient) => Promise<T>,
    { replicated = false }: RunOptions = {},
  ): Promise<T> {
    const client = this.#commands.client;
    if (client === null) throw new BackendUnavailableError("redis", this.#lastError);
    // The client has no command timeout (redis_connection.ts): the watchdog bounds each one.
    const work = async () => {
      const result = await command(client);
      if (replicated && this.#options.hasReplicas()) await this.#untilReplicated(client);
      return result;
    };
    try {
      return await this.#watchdog.guard(work());
    } catch (error) {
      const message = this.#redact(errorMessage(error));
      if (error instanceof CommandTimeout) this.#onStuck(message);
      if (NOT_MASTER.test(errorMessage(error))) this.#onNotMaster(client, error);
      throw new BackendUnavailableError("redis", message, { cause: error });
    }
  }

  /** The command that publishes on this link's pub/sub channels, in a script too: `PUBLISH`,
   * or `SPUBLISH` with sharded pub/sub. */
  get publishCommand(): "PUBLISH" | "SPUBLISH" {
    return this.#options.isSharded ? "SPUBLISH" : "PUBLISH";
  }

  runEach(script: RedisScript, calls: readonly ScriptCall[]): Promise<unknown[]> {
    return this.run((redis) => script.runEach(redis, calls));
  }

  /** Calls `listener` each time the command connection is (re)established. */
  onReady(listener: ReadyListener): void {
    this.#events.onReady(listener);
  }

  /** Calls `listener` each time the subscription delivers again after it was down: messages
   * sent meanwhile are lost. */
  onSubscribed(listener: ReadyListener): void {
    this.#events.onSubscribed(listener);
  }

  /** Calls `listener` when the subscription is lost or replaced, before any message can come
   * through a new one, and `resubscribed` once the new one is confirmed. */
  onInterruption(interrupted: () => void, resubscribed: () => void): void {
    this.#events.onInterruption(interrupted, resubscribed);
  }

  /** Calls `listener` for every message of a subscribed channel. */
  onMessage(listener: MessageListener): void {
    this.#events.onMessage(listener);
  }

  /** Adds `channels` to the subscription; resolves once Redis confirmed them (or at once,
   * when disconnected: they are subscribed on reconnect). */
  async subscribe(channels: readonly string[]): Promise<void> {
    const added = channels.filter((channel) => !this.#wanted.has(channel));
    for (const channel of added) this.#wanted.add(channel);
    const client = this.#subscriber.client;
    if (added.length === 0 || client === null) return;
    await this.#bounded(this.#subscribeOn(client, added));
  }

  /** Removes `channels` from the subscription (while disconnected, from what the next
   * connection subscribes). */
  async unsubscribe(channels: readonly string[]): Promise<void> {
    const removed = channels.filter((channel) => this.#wanted.delete(channel));
    const client = this.#subscriber.client;
    if (removed.length === 0 || client === null) return;
    await this.#bounded(
      this.#options.isSharded
        ? Promise.all(bySlot(removed).map((group) => client.sUnsubscribe(group)))
        : client.unsubscribe(removed),
    );
  }

  #onCommandsReady(address: string): void {
    this.#isStuck = false;
    // Both connections must reach the same server: the one that connected last asked last.
    const other = this.#subscriber.address;
    if (other !== null && other !== address) this.#replaceSubscriber();
    this.#events.ready();
  }

  #onSubscriberReady(client: RedisClient, address: string): void {
    const other = this.#commands.address;
    if (other !== null && other !== address) this.#commands.replace();
    if (this.#options.isSharded) {
      // The server ends a sharded subscription whose slot moved away (`SUNSUBSCRIBE` of its
      // own): the channel is to be followed where it went.
      client.on("sharded-channel-moved", (channel: string) => {
        if (!this.#wanted.delete(channel)) return;
        this.#options.onDropped?.(channel);
      });
    }
    this.#resubscribe(client);
  }

  async #resubscribe(client: RedisClient): Promise<void> {
    this.#isSubscribed = false;
    try {
      await this.#subscribeOn(client, [this.#options.pingChannel, ...this.#wanted]);
    } catch {
      return; // The connection dropped again; the next one retries.
    }
    this.#subscribedAt = Date.now();
    this.#events.resubscribed();
    // Prove the new subscription now rather than at the next tick.
    const commands = this.#commands.client;
    if (commands !== null) this.#publishPing(commands).catch(() => {});
  }

  #dispatch(channel: string, message: string): void {
    if (channel !== this.#options.pingChannel) {
      this.#events.message(channel, message);
      return;
    }
    this.#lastPingAt = Date.now();
    this.#isWedged = false;
    if (!this.#isSubscribed) {
      // The first ping through a new subscription proves it delivers.
      this.#isSubscribed = true;
      this.#events.subscribed();
    }
  }

  /** Subscribes `client` to `channels`: sharded, one command per slot, as Redis requires. */
  async #subscribeOn(client: RedisClient, channels: readonly string[]): Promise<void> {
    if (!this.#options.isSharded) return await client.subscribe([...channels], this.#onMessage);
    await Promise.all(bySlot(channels).map((group) => client.sSubscribe(group, this.#onMessage)));
  }

  #publishPing(redis: RedisClient): Promise<number> {
    const channel = this.#options.pingChannel;
    return this.#options.isSharded ? redis.sPublish(channel, "1") : redis.publish(channel, "1");
  }

  #ping(): void {
    if (!this.isReady) return;
    this.run((redis) => this.#publishPing(redis)).then(
      () => this.#isStuck = false,
      () => {},
    );
    this.#checkMaster();
    if (this.#subscriber.client === null) return;
    const limit = this.#options.pingIntervalMs * this.#options.missedPings;
    const now = Date.now();
    if (now - this.#lastPingAt > limit && now - this.#subscribedAt > limit && !this.#isWedged) {
      this.#isWedged = true;
      this.#options.logger.warn("redis subscription stopped delivering; reconnecting it");
      this.#replaceSubscriber();
    }
  }

  /** With Sentinel: leaves a master that the sentinels no longer name (after a failover this
   * node did not see as a lost connection, such as one behind a partition). Sentinels out of
   * reach change nothing: the master is no less the master. */
  #checkMaster(): void {
    if (this.#sentinels === null || this.#isCheckingMaster) return;
    this.#isCheckingMaster = true;
    this.#sentinels.locate().then((node) => {
      const current = this.#commands.address;
      const named = hostPort(node.host, node.port);
      if (this.#isClosed || current === null || current === named) return;
      this.#options.logger.warn("the sentinels name another redis master; reconnecting", {
        from: current,
        to: named,
      });
      this.#commands.replace();
      this.#replaceSubscriber();
    }, () => {}).finally(() => this.#isCheckingMaster = false);
  }

  /** Waits until a replica has what `client` wrote so far, at most half the command timeout;
   * throws when none acknowledged it in time. */
  async #untilReplicated(client: RedisClient): Promise<void> {
    const waitMs = Math.floor(this.#options.commandTimeoutMs / 2);
    if (await client.wait(1, waitMs) < 1) {
      throw new BackendUnavailableError(
        "redis",
        `no replica acknowledged the write within ${waitMs} ms`,
      );
    }
  }

  /** Waits for a subscription change at most the command timeout, and never fails: a change
   * that does not go through is made again when the subscription is replaced. */
  async #bounded(change: Promise<unknown>): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.commandTimeoutMs);
    });
    try {
      await Promise.race([
        change.then(() => {}, (error) => {
          this.#options.logger.debug("redis subscription change failed", {
            error: this.#redact(errorMessage(error)),
          });
        }),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A command that got no answer on an open connection: start over with a new one. */
  #onStuck(message: string): void {
    this.#lastError = message;
    if (this.#isStuck || this.#isClosed) return;
    this.#isStuck = true;
    this.#options.logger.warn("redis commands time out; reconnecting", { error: message });
    this.#commands.replace();
  }

  /** `client`'s server answered as no master does (a failover demoted it): both connections
   * go, after their back-off, to the master there is now. */
  #onNotMaster(client: RedisClient, error: unknown): void {
    this.#commands.fail(client, error);
    const subscriber = this.#subscriber.client;
    if (subscriber !== null) this.#subscriber.fail(subscriber, error);
  }

  /** The subscription stopped: what it delivers next may follow a gap. */
  #interrupt(): void {
    this.#isSubscribed = false;
    this.#events.interrupted();
  }

  #replaceSubscriber(): void {
    this.#interrupt();
    this.#subscriber.replace();
  }

  /** Never lets a password out in a message. */
  #redact(message: string): string {
    return this.#secrets.reduce((text, secret) => text.replaceAll(secret, "***"), message);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    this.#watchdog[Symbol.dispose]();
    await Promise.all([
      this.#commands[Symbol.asyncDispose](),
      this.#subscriber[Symbol.asyncDispose](),
      this.#sentinels?.[Symbol.asyncDispose](),
    ]);
  }
}
