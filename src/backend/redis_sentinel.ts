/**
 * @module
 * Which server is the Redis master now, as the sentinels say: `SENTINEL
 * GET-MASTER-ADDR-BY-NAME`, sent through the Redis client to each sentinel in turn until one
 * answers, as Redis's guidelines for Sentinel clients describe. The sentinel that answered is
 * asked first next time, on the connection kept open to it. Knows nothing of what the master
 * is used for; the link connects to it and checks its role.
 */

import { createClient } from "@redis/client";
import { hostPort, parseHostPort } from "../address.ts";
import { errorMessage } from "../text.ts";

/** How to reach the sentinels, and what they call the master. */
export interface SentinelOptions {
  /** The sentinels, `host:port` each (as `--redis-sentinel` validated them). */
  readonly sentinels: readonly string[];
  /** The name the sentinels monitor the master under. */
  readonly master: string;
  /** The password the sentinels require; null for none. */
  readonly password: string | null;
  /** Whether the sentinels speak TLS. */
  readonly tls: boolean;
  /** How long connecting to a sentinel and its answer may take, in milliseconds. */
  readonly timeoutMs: number;
}

/** A server's host and port. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** A client for one sentinel: no offline queue, no reconnection of its own. */
function newSentinelClient(node: RedisNode, options: SentinelOptions) {
  const { password, tls, timeoutMs } = options;
  return createClient({
    ...(password === null ? {} : { password }),
    disableOfflineQueue: true,
    commandOptions: { timeout: timeoutMs },
    socket: {
      host: node.host,
      port: node.port,
      connectTimeout: timeoutMs,
      reconnectStrategy: false,
      ...(tls ? { tls: true as const } : {}),
    },
  });
}

type SentinelClient = ReturnType<typeof newSentinelClient>;

/** Asks the sentinels where the master is. Dispose it to close its connection. */
export class SentinelLocator implements AsyncDisposable {
  readonly #options: SentinelOptions;
  readonly #nodes: RedisNode[];
  /** The sentinel that answered last, and its open connection. */
  #current: { node: RedisNode; client: SentinelClient } | null = null;
  #pending: Promise<RedisNode> | null = null;
  #isClosed = false;

  constructor(options: SentinelOptions) {
    this.#options = options;
    this.#nodes = options.sentinels.map((address) => {
      const node = parseHostPort(address, 26379);
      if (node === null) throw new TypeError(`not a sentinel address: ${address}`);
      return node;
    });
  }

  /** The master's address as the first sentinel that answers names it. Calls made while one
   * is asking share its answer. Rejects, naming what each sentinel said, when none knows. */
  locate(): Promise<RedisNode> {
    this.#pending ??= this.#ask().finally(() => this.#pending = null);
    return this.#pending;
  }

  async #ask(): Promise<RedisNode> {
    const failures: string[] = [];
    const current = this.#current?.node;
    const order = current === undefined
      ? this.#nodes
      : [current, ...this.#nodes.filter((node) => node !== current)];
    for (const node of order) {
      if (this.#isClosed) break;
      try {
        return await this.#askOne(node);
      } catch (error) {
        failures.push(`${hostPort(node.host, node.port)}: ${errorMessage(error)}`);
      }
    }
    throw new Error(
      `no sentinel named the master "${this.#options.master}" (${failures.join("; ")})`,
    );
  }

  /** Asks `node`, giving it the timeout to connect and answer: the client's own timeout
   * ends once the command is written, and a sentinel that stopped answering must not keep the
   * node from looking for its master. */
  async #askOne(node: RedisNode): Promise<RedisNode> {
    const { master, timeoutMs } = this.#options;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const asking = (async () => {
      const client = await this.#clientFor(node);
      const reply = await client.sendCommand(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", master]);
      if (!Array.isArray(reply)) throw new Error("does not know this master");
      return { host: String(reply[0]), port: Number(reply[1]) };
    })();
    try {
      return await Promise.race([asking, late]);
    } catch (error) {
      asking.catch(() => {});
      if (this.#current?.node === node) this.#drop(this.#current.client);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The open connection to `node`, or a new one in place of the last. */
  async #clientFor(node: RedisNode): Promise<SentinelClient> {
    if (this.#current?.node === node && this.#current.client.isReady) return this.#current.client;
    if (this.#current !== null) this.#drop(this.#current.client);
    const client = newSentinelClient(node, this.#options);
    // Failures reach the caller through connect() and the commands; a late one only closes it.
    client.on("error", () => this.#drop(client));
    this.#current = { node, client };
    try {
      await client.connect();
    } catch (error) {
      this.#drop(client);
      throw error;
    }
    if (this.#isClosed) this.#drop(client);
    return client;
  }

  #drop(client: SentinelClient): void {
    if (this.#current?.client === client) this.#current = null;
    try {
      client.destroy();
    } catch {
      // Already closed.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#isClosed = true;
    // Closing the connection ends a question in flight at once; none is asked after it.
    if (this.#current !== null) this.#drop(this.#current.client);
    await this.#pending?.catch(() => {});
  }
}
