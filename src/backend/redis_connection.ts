/**
 * @module
 * One of the node's connections to Redis, across its successive clients: it finds the server
 * (the URL's, or the master the sentinels name now), connects, checks that the server is a
 * master, and when the client fails opens a new one after a back-off. With redis_sentinel.ts,
 * the only module that imports the Redis client. Knows nothing of what the connection is for.
 */

import { createClient, ErrorReply } from "@redis/client";
import { hostPort } from "../address.ts";
import type { Logger } from "../log.ts";
import { errorMessage } from "../text.ts";
import type { RedisNode, SentinelLocator, SentinelOptions } from "./redis_sentinel.ts";

/** A connected Redis client, as the cluster modules use it. */
export type RedisClient = ReturnType<typeof createClient>;

/** Where Redis is: one server by URL, or the master a set of sentinels names. */
export type RedisTarget =
  | {
    /** `redis://` or `rediss://` URL, already validated. */
    readonly url: string;
  }
  | {
    readonly sentinel: Omit<SentinelOptions, "timeoutMs">;
    /** The master's ACL user and password; null for none. */
    readonly username: string | null;
    readonly password: string | null;
  };

/** `host:port` of a Redis URL, as the banner shows it (never the password). */
export function redisAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port === "" ? 6379 : parsed.port}`;
}

/** What a connection needs to know, and whom it tells of its changes. */
export interface RedisConnectionOptions {
  /** What the connection is for, as the log names it: `commands` or `subscriber`. */
  readonly name: string;
  readonly target: RedisTarget;
  /** Who names the master, with Sentinel; null with a URL. */
  readonly sentinels: SentinelLocator | null;
  /** The name the client gives itself (`CLIENT SETNAME`). */
  readonly clientName: string;
  /** How long connecting may take, in milliseconds. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Hides the passwords in a message. */
  readonly redact: (message: string) => string;
  /** Called with each new client once it is connected to a master, and that master's
   * `host:port`. */
  readonly onReady: (client: RedisClient, address: string) => void;
  /** Called with what went wrong each time a client fails or cannot be opened. */
  readonly onFailed: (message: string) => void;
}

/** The delay before the `attempt`-th reconnection: doubling from 50 ms up to 1 s. */
function backoffMs(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 1000);
}

/** One connection to the Redis master, reopened whenever it fails. */
export class RedisConnection implements AsyncDisposable {
  readonly #options: RedisConnectionOptions;
  /** The current client; null while the sentinels are being asked. */
  #client: RedisClient | null = null;
  /** Whether `#client` is connected to a master and may be used. */
  #isReady = false;
  /** Whether `#client` failed: it is not used again, whatever answers come late. */
  #hasFailed = false;
  #address: string | null = null;
  /** Counts the clients opened, so that a late answer for a replaced one is ignored. */
  #generation = 0;
  #wasReady = false;
  #hasWarned = false;
  #attempts = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Fails a client that has not been confirmed in time. */
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #isClosed = false;

  constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.#open();
  }

  /** The client, while it is connected to a master; null otherwise. */
  get client(): RedisClient | null {
    return this.#isReady ? this.#client : null;
  }

  /** `host:port` of the master the client is connected to; null while it is not. */
  get address(): string | null {
    return this.#isReady ? this.#address : null;
  }

  /** Drops the client, whatever its state, for a new one at once. */
  replace(): void {
    const old = this.#client;
    this.#client = null;
    this.#isReady = false;
    if (old !== null) stop(old);
    this.#open();
  }

  /** Takes `client`, if it is still the current one, out of service after `error` (such as a
   * reply that says its server is no master): a new one is opened after the back-off. */
  fail(client: RedisClient, error: unknown): void {
    this.#fail(client, error);
  }

  #open(): void {
    const generation = ++this.#generation;
    const { sentinels } = this.#options;
    const located = sentinels === null ? Promise.resolve(null) : sentinels.locate();
    located.then(
      (node) => {
        if (!this.#isClosed && this.#generation === generation) this.#connect(node);
      },
      (error) => {
        if (!this.#isClosed && this.#generation === generation) this.#fail(null, error);
      },
    );
  }

  /** Connects to `node` (null: the URL's server) with a client that fails commands at once
   * while disconnected (a queued command would answer long after its caller should have been
   * told that Redis is down), and does not reconnect on its own: a new one is opened instead,
   * on a timer this connection can cancel. */
  #connect(node: RedisNode | null): void {
    const { target, timeoutMs, clientName } = this.#options;
    // No `commandOptions.timeout`: the client would arm an `AbortSignal.timeout` for every
    // command, whose timer fires (and builds a `DOMException`) even once the command was
    // answered, a measurable share of a publish. It bounds only a command not yet written;
    // RedisLink bounds every command it runs, written or not.
    const common = { name: clientName, disableOfflineQueue: true };
    const socket = { connectTimeout: timeoutMs, reconnectStrategy: false as const };
    let client: RedisClient;
    let address: string;
    if ("url" in target || node === null) {
      const url = "url" in target ? target.url : "";
      client = createClient({ ...common, url, socket });
      address = redisAddress(url);
    } else {
      const { username, password, sentinel: { tls } } = target;
      client = createClient({
        ...common,
        ...(username === null ? {} : { username }),
        ...(password === null ? {} : { password }),
        socket: { ...socket, host: node.host, port: node.port, ...(tls ? { tls: true } : {}) },
      });
      address = hostPort(node.host, node.port);
    }
    this.#client = client;
    this.#hasFailed = false;
    // The client's connect timeout ends with the socket's: a server that takes the
    // connection and then answers nothing (stopped, wedged) would keep it opening forever.
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(
      () => this.#fail(client, new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: unknown) => this.#fail(client, error);
    client.on("error", fail);
    client.on("ready", () => {
      const checked = this.#checkRole(client, address);
      if (this.#options.sentinels !== null) {
        checked.then(() => this.#take(client, address, true), fail);
        return;
      }
      // With a URL, as soon as it is connected, as it always was: a node's first requests
      // need not wait for the check, and a replica answers writes READONLY anyway.
      this.#take(client, address, false);
      checked.then(() => this.#take(client, address, true), fail);
    });
    client.connect().catch(fail);
  }

  /** Resolves once `client`'s server says it is a master; rejects when it says it is not. A
   * server that cannot say (`ROLE` refused, as some managed services do) is taken at its word. */
  async #checkRole(client: RedisClient, address: string): Promise<void> {
    const reply = await client.role().catch((error) => {
      if (error instanceof ErrorReply) return undefined;
      throw error;
    });
    const role = reply?.role ?? "master";
    if (role !== "master") {
      throw new Error(`${address} is a ${role === "slave" ? "replica" : role}, not the master`);
    }
  }

  /** Puts `client` into service (once), and counts the connection as made once its server
   * is known to be a master (`isChecked`): only then does the back-off start over. */
  #take(client: RedisClient, address: string, isChecked: boolean): void {
    if (this.#client !== client || this.#hasFailed || this.#isClosed) return;
    clearTimeout(this.#connectTimer);
    const isNew = !this.#isReady;
    this.#isReady = true;
    this.#address = address;
    if (isChecked) {
      this.#wasReady = true;
      this.#hasWarned = false;
      this.#attempts = 0;
      this.#options.logger.info("redis connected", { connection: this.#options.name, address });
    }
    if (isNew) this.#options.onReady(client, address);
  }

  /** `client` failed (null: none could be opened): say so and open a new one after the
   * back-off. A replaced client's failure changes nothing. */
  #fail(client: RedisClient | null, error: unknown): void {
    if (client !== null && this.#client !== client) return;
    const { logger, name, redact } = this.#options;
    clearTimeout(this.#connectTimer);
    this.#isReady = false;
    this.#hasFailed = true;
    const message = redact(describe(error));
    this.#options.onFailed(message);
    if (this.#isClosed) return;
    if (this.#wasReady) {
      this.#wasReady = false;
      logger.warn("redis connection lost", { connection: name, error: message });
    } else if (!this.#hasWarned) {
      this.#hasWarned = true;
      logger.warn("cannot reach redis; retrying", { connection: name, error: message });
    }
    this.#reopenLater();
  }

  /** Opens a new client after the back-off, unless this one recovered or was replaced
   * meanwhile. */
  #reopenLater(): void {
    if (this.#timer !== undefined || this.#isClosed) return;
    const generation = this.#generation;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#isClosed || this.#generation !== generation || this.#isReady) return;
      this.replace();
    }, backoffMs(this.#attempts++));
  }

  /** Stops reconnecting and closes the client: politely when connected. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#isClosed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#connectTimer);
    const client = this.#client;
    if (client === null) return;
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
}

/** Closes `client` at once, whatever its state. */
function stop(client: RedisClient): void {
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}

/** A short description of a connection error, e.g. `connect ECONNREFUSED 127.0.0.1:6390`. */
function describe(error: unknown): string {
  const message = errorMessage(error);
  return message === "" ? "connection failed" : message;
}
