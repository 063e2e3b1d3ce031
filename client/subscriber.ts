/**
 * @module
 * The subscriber's side: `BoreasSubscriber` keeps one WebSocket to the server authenticated
 * and in its channels, reconnecting with back-off when it drops, and hands the broadcasts it
 * receives to an async iterator. With history on, it resumes each channel after the last
 * message it received, and reports the channels it could not resume. Web-platform APIs only.
 */

import { backoffDelay } from "./backoff.ts";
import { type CloseInfo, Connection, ReplyError } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import { Positions } from "./positions.ts";
import { MessageQueue } from "./queue.ts";
import {
  CLOSE_AUTH_TIMEOUT,
  closedError,
  isTemporaryRefusal,
  resolveSubscriberOptions,
  type SubscriberSettings,
  terminalError,
} from "./policy.ts";
import { rejectionOf, sleep, StateWatch } from "./state.ts";
import type {
  BoreasSubscriberOptions,
  BroadcastMessage,
  RecoveryEvent,
  StreamPosition,
  SubscriberEvent,
  SubscriberState,
  WaitOptions,
} from "./subscriber_types.ts";

const CLIENT_CLOSE: CloseInfo = { code: 1000, reason: "client closed" };

/** What the queue holds: a broadcast, or a channel that could not be resumed. */
type Item<T> =
  | { readonly kind: "message"; readonly value: BroadcastMessage<T> }
  | { readonly kind: "recovery"; readonly value: RecoveryEvent };

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
 * With history on (`--history-size`), each message carries its `offset`, and a reconnect
 * joins each channel after the last offset received, so that the stream goes on without a
 * gap or a repeat. A channel the server cannot resume is reported to `onRecovery` and, for
 * readers of `events()`, as a `RecoveryEvent`; the default iterator yields messages only.
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
  readonly #messages = new MessageQueue<Item<T>>();
  readonly #positions: Positions;
  readonly #onRecovery: ((event: RecoveryEvent) => void) | undefined;
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
    this.#positions = new Positions(options.since);
    this.#onRecovery = options.onRecovery;
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

  /** With history on, the position of each channel joined: the last offset received (queued,
   * whether read yet or not) and its epoch; what a reconnect resumes after. Save it to pass
   * as `since` to a later subscriber. Empty with history off.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * localStorage.setItem("positions", JSON.stringify(subscriber.positions));
   * ```
   */
  get positions(): Record<string, StreamPosition> {
    return this.#positions.snapshot();
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
    await this.#request((connection) => this.#sendJoin(connection, channels));
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
    await this.#request((connection) =>
      connection.request({ channels: { join: [], leave: channels } }, {
        onReply: () => this.#positions.forget(channels),
      })
    );
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

  /** The broadcasts received, oldest first; see the class's comment for how it ends.
   * Recovery events are left out: `events()` yields them. */
  [Symbol.asyncIterator](): AsyncIterator<BroadcastMessage<T>, undefined> {
    return {
      next: async () => {
        for (;;) {
          const result = await this.#messages.next();
          if (result.done) return result;
          if (result.value.kind === "message") return { done: false, value: result.value.value };
        }
      },
    };
  }

  /** The broadcasts received and the channels that could not be resumed, oldest first, as
   * typed events; it ends like the default iterator. Read one or the other: each item goes
   * to one reader, and the default iterator drops the recovery events it takes.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({
   *   url: "ws://localhost:8002/",
   *   token: "T",
   *   channels: ["news"],
   * });
   * for await (const event of subscriber.events()) {
   *   if (event.type === "recovery") console.log("reload", event.channel);
   *   else console.log(event.channel, event.offset, event.message);
   * }
   * ```
   */
  events(): AsyncIterable<SubscriberEvent<T>, undefined> {
    const next = async (): Promise<IteratorResult<SubscriberEvent<T>, undefined>> => {
      const result = await this.#messages.next();
      if (result.done) return result;
      const { kind, value } = result.value;
      return { done: false, value: kind === "message" ? { type: "message", ...value } : value };
    };
    return { [Symbol.asyncIterator]: () => ({ next }) };
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
      onBroadcast: (frame) => {
        if (frame.offset !== undefined && !this.#positions.accept(frame.channel, frame.offset)) {
          return;
        }
        this.#messages.push({ kind: "message", value: frame as BroadcastMessage<T> });
      },
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
    if (refusal instanceof ReplyError && isTemporaryRefusal(refusal.message)) {
      return this.#retryLater(connection);
    }
    if (refusal instanceof ReplyError) {
      throw new BoreasSubscriberError("auth-rejected", refusal.message, { cause: refusal });
    }
    if (refusal !== undefined) return false;
    const join = [...this.#channels];
    if (join.length > 0) {
      const failure = await rejectionOf(this.#sendJoin(connection, join));
      if (failure instanceof ReplyError && isTemporaryRefusal(failure.message)) {
        return this.#retryLater(connection);
      }
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

  /** Gives up on `connection` for now: the server could not act, so the subscriber connects
   * again after its back-off. */
  #retryLater(connection: Connection): false {
    connection.close(CLIENT_CLOSE.code, "server busy; retrying");
    return false;
  }

  /** Joins `join` on `connection`, resuming each channel with a position after it; the reply
   * updates the positions, and the channels it could not resume are reported before any
   * frame after the reply is handled. */
  #sendJoin(connection: Connection, join: readonly string[]): Promise<void> {
    const since = this.#positions.since(join);
    const channels = since === undefined ? { join, leave: [] } : { join, leave: [], since };
    return connection.request({ channels }, {
      onReply: (reply) => {
        for (const event of this.#positions.applyJoinReply(join, since, reply)) {
          this.#messages.push({ kind: "recovery", value: event });
          this.#report(event);
        }
      },
    });
  }

  /** Hands `event` to `onRecovery`; like an event listener's, its exception is reported, but
   * the subscriber's work goes on. */
  #report(event: RecoveryEvent): void {
    try {
      this.#onRecovery?.(event);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Sends a request with `send` on the open connection, waiting for one and retrying on the
   * next when the connection drops before the reply. */
  async #request(send: (connection: Connection) => Promise<void>): Promise<void> {
    for (;;) {
      await this.untilOpen();
      const connection = this.#live;
      if (connection !== undefined) {
        const failure = await rejectionOf(send(connection));
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
