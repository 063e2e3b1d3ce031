/**
 * @module
 * The node's two connections to Redis, and the only module that imports the Redis client:
 * one for commands, one for pub/sub. Both reconnect on their own with back-off; commands fail
 * at once while Redis is unreachable (no offline queue), so callers can answer 503. A ping the
 * node publishes to itself every second proves that the subscription still delivers; one that
 * stops arriving (an open but wedged connection) makes the link degraded and reconnects it.
 */

import { createClient } from "@redis/client";
import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import { ClusterUnavailableError } from "./errors.ts";

/** A connected Redis client, as the cluster modules use it. */
export type RedisClient = ReturnType<typeof createClient>;

/** What a link needs to know. */
export interface RedisLinkOptions {
  /** `redis://` or `rediss://` URL, already validated. */
  readonly url: string;
  /** The pub/sub channel this node's liveness pings go to. */
  readonly pingChannel: string;
  readonly logger: Logger;
  /** How long a command may take before it fails, in milliseconds. Default 2000. */
  readonly commandTimeoutMs?: number;
  /** How often the subscription is proven alive, in milliseconds. Default 1000. */
  readonly pingIntervalMs?: number;
  /** Missed ping intervals after which the subscription counts as wedged. Default 3. */
  readonly missedPings?: number;
}

/** `host:port` of a Redis URL, as the banner shows it (never the password). */
export function redisAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port === "" ? 6379 : parsed.port}`;
}

/** A client for `url` that fails commands at once while disconnected (a queued command would
 * answer long after its caller should have been told that Redis is down), and does not
 * reconnect on its own: the link opens a new one, on a timer it can cancel. */
function newClient(url: string, timeoutMs: number): RedisClient {
  return createClient({
    url,
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
  });
}

/** The delay before the `attempt`-th reconnection: doubling from 50 ms up to 1 s. */
function backoffMs(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 1000);
}

type Role = "commands" | "subscriber";

type ReadyListener = () => void | Promise<void>;
type MessageListener = (channel: string, message: string) => void;

/** Two connections to one Redis, and what is wrong with them. */
export class RedisLink implements AsyncDisposable {
  #commands: RedisClient;
  #subscriber: RedisClient;
  readonly #options: Required<Omit<RedisLinkOptions, "logger">> & { logger: Logger };
  readonly #secret: string;
  readonly #wanted = new Set<string>();
  readonly #readyListeners: ReadyListener[] = [];
  readonly #subscribedListeners: ReadyListener[] = [];
  readonly #messageListeners: MessageListener[] = [];
  readonly #interruptedListeners: Array<() => void> = [];
  readonly #resubscribedListeners: Array<() => void> = [];
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #roles: Record<Role, RoleState> = {
    commands: newRoleState(),
    subscriber: newRoleState(),
  };
  // One function for every channel: the client keeps a set of listeners per channel, so
  // subscribing a channel again does not deliver its messages twice.
  readonly #onMessage = (message: string, channel: string) => this.#dispatch(channel, message);
  #lastError = "connecting";
  #isSubscribed = false;
  #lastPingAt = 0;
  #subscribedAt = 0;
  #isWedged = false;
  #isStuck = false;
  #isClosed = false;

  constructor(options: RedisLinkOptions) {
    this.#options = {
      commandTimeoutMs: 2000,
      pingIntervalMs: 1000,
      missedPings: 3,
      ...options,
    };
    this.#secret = decodeURIComponent(new URL(options.url).password);
    this.#commands = this.#open("commands");
    this.#subscriber = this.#open("subscriber");
    this.#timer = setInterval(() => this.#ping(), this.#options.pingIntervalMs);
  }

  /** What is wrong, one `redis: ...` message each; empty when both connections work and the
   * subscription delivers. */
  problems(): string[] {
    // Until a ping comes through the replacement, the wedge is what is wrong.
    if (this.#isWedged) return ["redis: the subscription stopped delivering messages"];
    if (!this.#commands.isReady || !this.#subscriber.isReady || this.#isStuck) {
      return [`redis: ${this.#lastError}`];
    }
    if (!this.#isSubscribed) return ["redis: subscribing"];
    return [];
  }

  /** Whether commands can be sent now. */
  get isReady(): boolean {
    return this.#commands.isReady;
  }

  /** Runs `command` on the command connection; any failure becomes a
   * `ClusterUnavailableError`. */
  async run<T>(command: (redis: RedisClient) => Promise<T>): Promise<T> {
    if (!this.#commands.isReady) {
      throw new ClusterUnavailableError(this.#lastError);
    }
    // The client's own timeout ends once a command is written: a Redis that stopped
    // answering (paused, or cut off without a reset) would keep the caller waiting.
    const { commandTimeoutMs } = this.#options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CommandTimeout(commandTimeoutMs)), commandTimeoutMs);
    });
    try {
      return await Promise.race([command(this.#commands), late]);
    } catch (error) {
      const message = this.#redact(errorMessage(error));
      if (error instanceof CommandTimeout) this.#onStuck(message);
      throw new ClusterUnavailableError(message, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls `listener` each time the command connection is (re)established. */
  onReady(listener: ReadyListener): void {
    this.#readyListeners.push(listener);
  }

  /** Calls `listener` each time the subscription delivers again after it was down: messages
   * sent meanwhile are lost. */
  onSubscribed(listener: ReadyListener): void {
    this.#subscribedListeners.push(listener);
  }

  /** Calls `listener` when the subscription is lost or replaced, before any message can come
   * through a new one, and `resubscribed` once the new one is confirmed. */
  onInterruption(interrupted: () => void, resubscribed: () => void): void {
    this.#interruptedListeners.push(interrupted);
    this.#resubscribedListeners.push(resubscribed);
  }

  /** Calls `listener` for every message of a subscribed channel. */
  onMessage(listener: MessageListener): void {
    this.#messageListeners.push(listener);
  }

  /** Adds `channels` to the subscription; resolves once Redis confirmed them (or at once,
   * when disconnected: they are subscribed on reconnect). */
  async subscribe(channels: readonly string[]): Promise<void> {
    const added = channels.filter((channel) => !this.#wanted.has(channel));
    for (const channel of added) this.#wanted.add(channel);
    if (added.length === 0 || !this.#subscriber.isReady) return;
    await this.#bounded(this.#subscriber.subscribe(added, this.#onMessage));
  }

  /** Removes `channels` from the subscription. */
  async unsubscribe(channels: readonly string[]): Promise<void> {
    const removed = channels.filter((channel) => this.#wanted.delete(channel));
    if (removed.length === 0) return;
    // Also while disconnected: the client forgets them then, instead of subscribing them again
    // when it reconnects.
    await this.#bounded(this.#subscriber.unsubscribe(removed));
  }

  /** Opens a client for `role` that reports its state changes, and is replaced by a new one
   * after a back-off when it fails. */
  #open(role: Role): RedisClient {
    const { logger } = this.#options;
    const client = newClient(this.#options.url, this.#options.commandTimeoutMs);
    const state = this.#roles[role];
    const fail = (error: unknown) => {
      this.#lastError = this.#redact(describe(error));
      if (role === "subscriber") this.#interrupt();
      if (this.#isClosed) return;
      if (state.wasReady) {
        state.wasReady = false;
        logger.warn("redis connection lost", { connection: role, error: this.#lastError });
      } else if (!state.hasWarned) {
        state.hasWarned = true;
        logger.warn("cannot reach redis; retrying", { connection: role, error: this.#lastError });
      }
      this.#reopenLater(role, client);
    };
    client.on("error", fail);
    client.on("ready", () => {
      state.wasReady = true;
      state.hasWarned = false;
      state.attempts = 0;
      logger.info("redis connected", { connection: role });
      if (role === "commands") {
        this.#isStuck = false;
        this.#emit(this.#readyListeners);
      } else {
        this.#resubscribe(client);
      }
    });
    client.connect().catch(fail);
    return client;
  }

  /** Replaces `client` with a new one after the back-off, unless it recovered or was
   * replaced meanwhile. */
  #reopenLater(role: Role, client: RedisClient): void {
    const state = this.#roles[role];
    if (state.timer !== undefined || this.#isClosed) return;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      const current = role === "commands" ? this.#commands : this.#subscriber;
      if (this.#isClosed || current !== client || client.isReady) return;
      this.#replace(role);
    }, backoffMs(state.attempts++));
  }

  async #resubscribe(client: RedisClient): Promise<void> {
    this.#isSubscribed = false;
    try {
      await client.subscribe([this.#options.pingChannel, ...this.#wanted], this.#onMessage);
    } catch {
      return; // The connection dropped again; the next "ready" retries.
    }
    this.#subscribedAt = Date.now();
    for (const listener of this.#resubscribedListeners) listener();
    // Prove the new subscription now rather than at the next tick.
    if (this.#commands.isReady) {
      this.#commands.publish(this.#options.pingChannel, "1").catch(() => {});
    }
  }

  #dispatch(channel: string, message: string): void {
    if (channel !== this.#options.pingChannel) {
      for (const listener of this.#messageListeners) listener(channel, message);
      return;
    }
    this.#lastPingAt = Date.now();
    this.#isWedged = false;
    if (!this.#isSubscribed) {
      // The first ping through a new subscription proves it delivers.
      this.#isSubscribed = true;
      this.#emit(this.#subscribedListeners);
    }
  }

  #emit(listeners: readonly ReadyListener[]): void {
    for (const listener of listeners) {
      Promise.resolve(listener()).catch((error) =>
        this.#options.logger.warn("redis reconnect step failed", {
          error: this.#redact(errorMessage(error)),
        })
      );
    }
  }

  #ping(): void {
    if (!this.#commands.isReady) return;
    this.run((redis) => redis.publish(this.#options.pingChannel, "1")).then(
      () => this.#isStuck = false,
      () => {},
    );
    if (!this.#subscriber.isReady) return;
    const limit = this.#options.pingIntervalMs * this.#options.missedPings;
    const now = Date.now();
    if (now - this.#lastPingAt > limit && now - this.#subscribedAt > limit && !this.#isWedged) {
      this.#isWedged = true;
      this.#interrupt();
      this.#options.logger.warn("redis subscription stopped delivering; reconnecting it");
      this.#replace("subscriber");
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
      await Promise.race([change.then(() => {}, () => {}), late]);
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
    this.#replace("commands");
  }

  /** The subscription stopped: what it delivers next may follow a gap. */
  #interrupt(): void {
    this.#isSubscribed = false;
    for (const listener of this.#interruptedListeners) listener();
  }

  /** Drops a connection that is open but no longer answers (or failed), for a new one. */
  #replace(role: Role): void {
    const old = role === "commands" ? this.#commands : this.#subscriber;
    stop(old);
    if (role === "commands") this.#commands = this.#open("commands");
    else this.#subscriber = this.#open("subscriber");
  }

  /** Never lets the password out in a message. */
  #redact(message: string): string {
    return this.#secret === "" ? message : message.replaceAll(this.#secret, "***");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#timer);
    for (const state of Object.values(this.#roles)) clearTimeout(state.timer);
    await Promise.all([this.#commands, this.#subscriber].map(close));
  }
}

/** Closes politely when connected, else stops reconnecting at once. */
async function close(client: RedisClient): Promise<void> {
  if (client.isReady) {
    try {
      await client.close();
      return;
    } catch {
      // Fall through to a hard stop.
    }
  }
  stop(client);
}

/** Closes `client` at once, whatever its state. */
function stop(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}

/** How one of the link's two connections is doing across its successive clients. */
interface RoleState {
  wasReady: boolean;
  hasWarned: boolean;
  attempts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function newRoleState(): RoleState {
  return { wasReady: false, hasWarned: false, attempts: 0, timer: undefined };
}

/** A short description of a connection error, e.g. `connect ECONNREFUSED 127.0.0.1:6390`. */
function describe(error: unknown): string {
  const message = errorMessage(error);
  return message === "" ? "connection failed" : message;
}

/** A command that got no answer within the link's timeout. */
class CommandTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "CommandTimeout";
  }
}
