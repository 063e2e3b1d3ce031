/**
 * @module
 * The subscriber's side: `BoreasSubscriber` keeps one WebSocket to the server authenticated
 * and in its channels, reconnecting with back-off when it drops, and hands the broadcasts it
 * receives to an async iterator. Web-platform APIs only.
 */

import { backoffDelay } from "./backoff.ts";
import { type CloseInfo, Connection, ReplyError } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import { MessageQueue } from "./queue.ts";
import {
  CLOSE_AUTH_TIMEOUT,
  closedError,
  resolveSubscriberOptions,
  type SubscriberSettings,
  terminalError,
} from "./policy.ts";
import { rejectionOf, sleep, StateWatch } from "./state.ts";
import type {
  BoreasSubscriberOptions,
  BroadcastMessage,
  SubscriberState,
  WaitOptions,
} from "./subscriber_types.ts";

const CLIENT_CLOSE: CloseInfo = { code: 1000, reason: "client closed" };

/** A subscription: connects, authenticates with its token, joins its channels, and yields
 * every broadcast it receives, reconnecting on its own with back-off when the connection
 * drops (re-authenticating and re-joining). It ends, and the iteration throws a
 * `BoreasSubscriberError`, when the server refuses the token, revokes it (4001), times out
 * authentication repeatedly (4003), or the connection drops while `reconnect` is `false`.
 *
 * Messages are queued until read; each one goes to one reader. Breaking out of a `for await`
 * loop does not close the subscriber; `close()` (or `await using`) does, and the loop then
 * ends once the queued messages are read.
 *
 * ```ts
 * import { BoreasSubscriber } from "./mod.ts";
 *
 * await using subscriber = new BoreasSubscriber({
 *   url: "ws://localhost:8002/",
 *   token: "I4myiMMyKWLB...-1361390859",
 *   channels: ["news"],
 * });
 * await subscriber.untilOpen();
 * await subscriber.join("weather");
 * for await (const { channel, message } of subscriber) {
 *   console.log(channel, message);
 * }
 * ```
 */
export class BoreasSubscriber<T = unknown>
  implements AsyncIterable<BroadcastMessage<T>>, AsyncDisposable {
  readonly #settings: SubscriberSettings;
  readonly #signal: AbortSignal | undefined;
  readonly #channels: Set<string>;
  readonly #messages = new MessageQueue<BroadcastMessage<T>>();
  readonly #stopping = new AbortController();
  readonly #state: StateWatch<SubscriberState>;
  readonly #done: Promise<void>;
  #error: BoreasSubscriberError | undefined;
  /** The connection being made or in use. */
  #connection: Connection | undefined;
  /** The connection, while the state is `open`. */
  #live: Connection | undefined;

  /** Starts connecting at once. Throws `TypeError` for a URL that is not `ws:`/`wss:`
   * (or `http:`/`https:`), an empty token or no WebSocket class, and `RangeError` for bad
   * `reconnect` values. */
  constructor(options: BoreasSubscriberOptions) {
    this.#settings = resolveSubscriberOptions(options);
    this.#channels = new Set(options.channels ?? []);
    this.#state = new StateWatch<SubscriberState>("connecting", options.onStateChange);
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#stopping.abort();
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    this.#done = this.#run();
  }

  /** Creates a subscriber and waits until it is `open`; rejects (having closed it) with the
   * `BoreasSubscriberError` that ended it first, e.g. `auth-rejected` for an unknown token.
   * While the server cannot be reached it keeps retrying: pass a `signal` to give up, and
   * it rejects with the signal's reason.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = await BoreasSubscriber.connect({
   *   url: "ws://localhost:8002/",
   *   token: "T",
   *   channels: ["news"],
   *   signal: AbortSignal.timeout(10_000),
   * });
   * ```
   */
  static async connect<T = unknown>(
    options: BoreasSubscriberOptions,
  ): Promise<BoreasSubscriber<T>> {
    const subscriber = new BoreasSubscriber<T>(options);
    try {
      // With the signal here too, an abort rejects with its reason rather than `closed`.
      await subscriber.untilOpen(options.signal === undefined ? {} : { signal: options.signal });
      return subscriber;
    } catch (error) {
      await subscriber.close();
      throw error;
    }
  }

  /** The current state. */
  get state(): SubscriberState {
    return this.#state.value;
  }

  /** Why the subscriber closed, when an error closed it; undefined otherwise. */
  get error(): BoreasSubscriberError | undefined {
    return this.#error;
  }

  /** The channels the server confirmed this subscriber is in (re-joined on reconnect). */
  get channels(): readonly string[] {
    return [...this.#channels];
  }

  /** Resolves when the state is (or becomes) `state`. Rejects when the subscriber closes
   * first (with its `error`, or a `closed` one), or when `signal` aborts.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.untilState("open", { signal: AbortSignal.timeout(5_000) });
   * ```
   */
  untilState(state: SubscriberState, options: WaitOptions = {}): Promise<void> {
    return this.#state.until(state, {
      ...options,
      final: "closed",
      failure: () => this.#error ?? closedError(),
    });
  }

  /** `untilState("open")`: resolves once authenticated and in every joined channel.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.untilOpen();
   * ```
   */
  untilOpen(options: WaitOptions = {}): Promise<void> {
    return this.untilState("open", options);
  }

  /** Joins `channels`: resolves once the server confirms, after which they are re-joined on
   * every reconnect. Waits for the subscriber to be `open`, and retries on the next
   * connection if this one drops first. Rejects with a `rejected` `BoreasSubscriberError`
   * when the server refuses (an invalid name, too many channels), or when the subscriber
   * closes first.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.join("news", "weather");
   * ```
   */
  async join(...channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.#request({ channels: { join: channels, leave: [] } });
    for (const channel of channels) this.#channels.add(channel);
  }

  /** Leaves `channels`, like `join()`; leaving a channel it is not in is not an error.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.leave("weather");
   * ```
   */
  async leave(...channels: string[]): Promise<void> {
    if (channels.length === 0) return;
    await this.#request({ channels: { join: [], leave: channels } });
    for (const channel of channels) this.#channels.delete(channel);
  }

  /** Closes the connection (code 1000) and any pending reconnect timer, and resolves once the
   * socket has closed. The iteration ends after the queued messages; pending and later calls
   * reject with a `closed` error. Safe to call more than once.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * const subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.#stopping.signal.aborted) {
      this.#stopping.abort();
      this.#connection?.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
    }
    await this.#done;
  }

  /** `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The broadcasts received, oldest first; see the class's comment for how it ends. */
  [Symbol.asyncIterator](): AsyncIterator<BroadcastMessage<T>, undefined> {
    return { next: () => this.#messages.next() };
  }

  readonly #onAbort = (): void => {
    void this.close();
  };

  /** Connects again and again until closed or a terminal error. */
  async #run(): Promise<void> {
    let retries = 0;
    let authTimeouts = 0;
    let wasOpen = false;
    try {
      while (!this.#stopping.signal.aborted) {
        const { close, reachedOpen } = await this.#session();
        if (this.#stopping.signal.aborted) break;
        if (reachedOpen) [retries, authTimeouts, wasOpen] = [0, 0, true];
        if (close.code === CLOSE_AUTH_TIMEOUT) authTimeouts++;
        const canReconnect = this.#settings.reconnect !== undefined;
        const error = terminalError(close, { authTimeouts, canReconnect });
        if (error !== undefined) throw error;
        this.#state.set(wasOpen ? "reconnecting" : "connecting");
        const delay = backoffDelay(retries++, this.#settings.reconnect);
        await sleep(delay, this.#stopping.signal);
      }
    } catch (error) {
      this.#error = error instanceof BoreasSubscriberError
        ? error
        : new BoreasSubscriberError("disconnected", String(error), { cause: error });
    }
    this.#live = this.#connection = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#state.set("closed");
    this.#messages.end(this.#error);
  }

  /** One connection, from opening to closed; throws a terminal `BoreasSubscriberError`. */
  async #session(): Promise<{ close: CloseInfo; reachedOpen: boolean }> {
    let socket: WebSocket;
    try {
      socket = new this.#settings.WebSocket(this.#settings.url);
    } catch (error) {
      throw new BoreasSubscriberError("disconnected", `cannot open a WebSocket: ${error}`, {
        cause: error,
      });
    }
    const connection = new Connection(socket, {
      replyTimeoutMs: this.#settings.replyTimeoutMs,
      onBroadcast: (frame) => this.#messages.push(frame as BroadcastMessage<T>),
    });
    this.#connection = connection;
    let reachedOpen: boolean;
    try {
      reachedOpen = await this.#handshake(connection);
    } catch (error) {
      // The server refused the token or the channels: trying again would not help.
      connection.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
      await connection.closed;
      throw error;
    }
    const close = await connection.closed;
    this.#live = this.#connection = undefined;
    return { close, reachedOpen };
  }

  /** Authenticates and re-joins; false when the connection was lost on the way. */
  async #handshake(connection: Connection): Promise<boolean> {
    if (!(await connection.opened)) return false;
    const refusal = await rejectionOf(connection.request({ "access_token": this.#settings.token }));
    if (refusal instanceof ReplyError) {
      throw new BoreasSubscriberError("auth-rejected", refusal.message, { cause: refusal });
    }
    if (refusal !== undefined) return false;
    const join = [...this.#channels];
    if (join.length > 0) {
      const failure = await rejectionOf(connection.request({ channels: { join, leave: [] } }));
      if (failure instanceof ReplyError) {
        throw new BoreasSubscriberError("rejected", failure.message, { cause: failure });
      }
      if (failure !== undefined) return false;
    }
    if (this.#stopping.signal.aborted) return false;
    this.#live = connection;
    this.#state.set("open");
    return true;
  }

  /** Sends `message` on the open connection, waiting for one and retrying on the next when
   * the connection drops before the reply. */
  async #request(message: Readonly<Record<string, unknown>>): Promise<void> {
    for (;;) {
      await this.untilOpen();
      const connection = this.#live;
      if (connection !== undefined) {
        const failure = await rejectionOf(connection.request(message));
        if (failure === undefined) return;
        if (failure instanceof ReplyError) {
          throw new BoreasSubscriberError("rejected", failure.message, { cause: failure });
        }
      }
      // Lost. While the state still says `open`, the drop is yet to be processed: wait for
      // it rather than spin, unless a newer connection is already live.
      const isStale = this.#live === undefined || this.#live === connection;
      if (this.#state.value === "open" && isStale) await this.#state.changed();
    }
  }
}
