/**
 * @module
 * What the Redis backends send their commands and pub/sub through: `RedisLink`, implemented
 * for one master (redis_master_link.ts, by URL or through Sentinel) and for the masters of a
 * Redis Cluster (redis_cluster_link.ts).
 */

import type { RedisClient } from "./redis_connection.ts";
import type { RedisScript, ScriptCall } from "./redis_script.ts";

export { redisAddress, type RedisClient, type RedisTarget } from "./redis_connection.ts";

/** What `run` may be asked besides the command. */
export interface RunOptions {
  /** A key the command touches: with Redis Cluster, the command goes to the master of its
   * slot (every key the command touches must share it); elsewhere it changes nothing. */
  readonly key?: string;
  /** Where the deployment has replicas (Sentinel), answer only once one of them has the
   * writes too (`WAIT 1`, at most half the command timeout), so that a failover keeps them;
   * fail when none acknowledged them. Default false. */
  readonly replicated?: boolean;
}

/** Runs `command` on the master of `key`'s slot (with one master, on its connection). */
export type KeyedRun = <T>(key: string, command: (redis: RedisClient) => Promise<T>) => Promise<T>;

/** Called when a connection is (re)established. */
export type ReadyListener = () => void | Promise<void>;
/** Called with each message of a subscribed channel. */
export type MessageListener = (channel: string, message: string) => void;

/** What the Redis backends send their commands and pub/sub through: one master
(`RedisMasterLink`), or the masters of a Redis Cluster (`RedisClusterLink`). */
export interface RedisLink extends AsyncDisposable {
  /** What is wrong, one `redis: ...` message each; empty when commands can be sent and the
   * subscriptions deliver. */
  problems(): string[];
  /** Whether commands can be sent now. */
  readonly isReady: boolean;
  /** `host:port` of the server(s) the commands go to, or null while there is none. */
  readonly address: string | null;
  /** The command that publishes on the link's pub/sub channels, in a script too. */
  readonly publishCommand: "PUBLISH" | "SPUBLISH";
  /** Runs `command` on a connection to the master (of `options.key`'s slot); any failure
   * becomes a `BackendUnavailableError`. */
  run<T>(command: (redis: RedisClient) => Promise<T>, options?: RunOptions): Promise<T>;
  /** Runs `script` once per call, as few round trips as can be: one pipeline per master (a
   * call's keys share a slot; the first one routes it). Resolves to the replies in order;
   * rejects with a `BackendUnavailableError` when any call failed (the others ran). */
  runEach(script: RedisScript, calls: readonly ScriptCall[]): Promise<unknown[]>;
  /** Calls `listener` each time a command connection is (re)established. */
  onReady(listener: ReadyListener): void;
  /** Calls `listener` each time a subscription delivers again after it was down. */
  onSubscribed(listener: ReadyListener): void;
  /** Calls `interrupted` when a subscription is lost or replaced, before any message can come
   * through a new one, and `resubscribed` once the new one is confirmed. */
  onInterruption(interrupted: () => void, resubscribed: () => void): void;
  /** Calls `listener` for every message of a subscribed channel. */
  onMessage(listener: MessageListener): void;
  /** Adds `channels` to the subscription; resolves once Redis confirmed them (or at once,
   * when disconnected: they are subscribed on reconnect). */
  subscribe(channels: readonly string[]): Promise<void>;
  /** Removes `channels` from the subscription. */
  unsubscribe(channels: readonly string[]): Promise<void>;
}
