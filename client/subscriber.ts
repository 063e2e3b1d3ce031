/**
 * @module
 * The subscriber's side: `BoreasSubscriber` keeps one connection to the server (a WebSocket,
 * or an SSE stream: see `transport.ts`) authenticated and in its channels, reconnecting with
 * back-off when it drops, and hands the broadcasts it receives to an async iterator. With
 * history on, it resumes each channel after the last message it received, and reports the
 * channels it could not resume. In channels with join and leave events it keeps who is there
 * (`members.ts`). What goes over the wire is the links' business
 * (`websocket_link.ts`, `sse_link.ts`). Web-platform APIs only.
 */

import { backoffDelay } from "./backoff.ts";
import { CLIENT_CLOSE, type CloseInfo } from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import type { Link } from "./link.ts";
import { MemberLists } from "./members.ts";
import { Positions } from "./positions.ts";
import { MessageQueue } from "./queue.ts";
import {
  CLOSE_AUTH_TIMEOUT,
  closedError,
  refusalError,
  resolveSubscriberOptions,
  type SubscriberSettings,
  terminalError,
} from "./policy.ts";
import { callListener, rejectionOf, sleep, StateWatch } from "./state.ts";
import { TransportPicker } from "./transport.ts";
import type {
  BoreasSubscriberOptions,
  BroadcastMessage,
  ChannelMembers,
  RecoveryEvent,
  StreamPosition,
  SubscriberEvent,
  SubscriberState,
  WaitOptions,
} from "./subscriber_types.ts";

/** What the queue holds: a broadcast, or another event (`events()` yields them, the default
 * iterator drops them). */
type Item<T> =
  | { readonly kind: "message"; readonly value: BroadcastMessage<T> }
  | { readonly kind: "event"; readonly value: Exclude<SubscriberEvent<T>, { type: "message" }> };

/** A subscription: connects, authenticates with its token, joins its channels, and yields
 * every broadcast it receives, reconnecting on its own with back-off when the connection
 * drops (re-authenticating and re-joining). It ends, and the iteration throws a
 * `BoreasSubscriberError`, when the server refuses the token, revokes it (4001), times out
 * authentication repeatedly (4003), or the connection drops while `reconnect` is `false`.
 *
 * It connects over a WebSocket unless `transport` says otherwise: `sse` reads Server-Sent
 * Events from `GET /events` instead, with the same messages, resumes, errors and
 * reconnects; `auto` falls back to SSE when WebSockets fail to open twice in a row.
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
 * In channels with join and leave events (`--join-leave`), `members()` says who is there, and
 * `events()` yields who comes and goes.
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
  readonly #members = new MemberLists();
  readonly #onRecovery: ((event: RecoveryEvent) => void) | undefined;
  readonly #stopping = new AbortController();
  readonly #state: StateWatch<SubscriberState>;
  readonly #done: Promise<void>;
  #error: BoreasSubscriberError | undefined;
  readonly #transports: TransportPicker;
  /** The link being made or in use. */
  #link: Link | undefined;
  /** The link, while the state is `open`. */
  #live: Link | undefined;

  /** Starts connecting at once. Throws `TypeError` for a URL that is not `ws:`/`wss:`
   * (or `http:`/`https:`), an empty token, an unknown `transport`, or no WebSocket class (no
   * `fetch`) where the transport needs one, and `RangeError` for bad `reconnect` values. */
  constructor(options: BoreasSubscriberOptions) {
    this.#settings = resolveSubscriberOptions(options);
    this.#transports = new TransportPicker(this.#settings);
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

  /** The transport of the current connection, or of the next one while there is none:
   * `websocket` or `sse` (with `transport: "auto"`, `sse` once it fell back). */
  get transport(): "websocket" | "sse" {
    return this.#transports.current;
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

  /** Who is in `channel`, when it has join and leave events (`--join-leave`): the list the
   * server gave when it was joined, kept up to date by the `joined` and `left` received since
   * (queued, whether read yet or not), and replaced by the list each reconnect brings. Undefined
   * for a channel without those events, not joined, or not listed yet: over a WebSocket the list
   * comes with the join's answer, so it is there once `join()` (or `connect()`) resolves; over
   * SSE it comes first on the stream, just after. While reconnecting, it is the last list known.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = await BoreasSubscriber.connect({
   *   url: "ws://localhost:8002/",
   *   token: "T",
   *   channels: ["room:1"],
   * });
   * console.log(subscriber.members("room:1")); // { channel, users: ["alice", "bob"], ... }
   * ```
   */
  members(channel: string): ChannelMembers | undefined {
    return this.#members.get(channel);
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
   * closes first. Over SSE, it opens a stream of the new channels, then drops the old one;
   * a refused token there rejects with `auth-rejected` and ends the subscriber.
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
    await this.#request((link) => link.join(channels));
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
    await this.#request((link) => link.leave(channels));
    for (const channel of channels) this.#channels.delete(channel);
  }

  /** Publishes `payload` to `channel`, which the subscriber has joined and its token may
   * publish to (its `publish` grant); the other subscribers of the channel receive it with this
   * token's user, this one does not. Resolves on the server's ok, with the `offset` the message
   * was given when the server keeps history. Waits for the subscriber to be `open`, then sends
   * once: it is never sent again on its own, so a connection that drops before the answer
   * rejects with `disconnected` and the message may or may not have gone out. Rejects with
   * `rejected` when the server refuses it (`publish: not permitted by this token`), and always
   * over SSE, which cannot send.
   *
   * ```ts
   * import { BoreasSubscriber } from "./mod.ts";
   *
   * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
   * await subscriber.join("room:1");
   * await subscriber.publish("room:1", { text: "hi" });
   * ```
   */
  async publish(channel: string, payload: unknown): Promise<{ offset?: number }> {
    await this.untilOpen();
    const link = this.#live;
    if (link === undefined) {
      throw new BoreasSubscriberError("disconnected", "publish: the connection dropped");
    }
    try {
      return await link.publish(channel, payload);
    } catch (error) {
      throw refusalError(error) ?? new BoreasSubscriberError(
        "disconnected",
        "publish: the connection dropped before the answer",
        { cause: error },
      );
    }
  }

  /** Closes the connection (code 1000) and any pending reconnect timer, and resolves once the
   * socket (or stream) has closed. The iteration ends after the queued messages; pending and
   * later calls reject with a `closed` error. Safe to call more than once.
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
      this.#link?.close(CLIENT_CLOSE.code, CLIENT_CLOSE.reason);
    }
    await this.#done;
  }

  /** `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The broadcasts received, oldest first; see the class's comment for how it ends.
   * Recovery and member events are left out: `events()` yields them. */
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

  /** The broadcasts received, the channels that could not be resumed, and in channels with
   * join and leave events their member lists and who joined or left, oldest first, as typed
   * events; it ends like the default iterator. Read one or the other: each item goes to one
   * reader, and the default iterator drops the other events it takes.
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
   *   if (event.type === "message") console.log(event.channel, event.offset, event.message);
   *   else if (event.type === "recovery") console.log("reload", event.channel);
   *   else if (event.type === "members") console.log(event.channel, event.users);
   *   else console.log(event.user, event.type, event.channel); // joined or left
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
    this.#live = this.#link = undefined;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#state.set("closed");
    this.#messages.end(this.#error);
  }

  /** One link, from opening to closed; throws a terminal `BoreasSubscriberError`. */
  async #session(): Promise<{ close: CloseInfo; reachedOpen: boolean }> {
    const link = this.#transports.open({
      settings: this.#settings,
      channels: [...this.#channels],
      positions: this.#positions,
      onBroadcast: (frame) => {
        if (frame.offset !== undefined && !this.#positions.accept(frame.channel, frame.offset)) {
          return;
        }
        this.#messages.push({ kind: "message", value: frame as BroadcastMessage<T> });
      },
      onRecovery: (event) => {
        this.#messages.push({ kind: "event", value: event });
        callListener(this.#onRecovery, event);
      },
      members: this.#members,
      onMembership: (event) => this.#messages.push({ kind: "event", value: event }),
    });
    this.#link = link;
    const reachedOpen = (await link.opened) && !this.#stopping.signal.aborted;
    if (reachedOpen) {
      this.#live = link;
      this.#state.set("open");
    }
    const close = await link.closed;
    this.#live = this.#link = undefined;
    this.#transports.closed(link);
    if (link.error !== undefined) throw link.error;
    return { close, reachedOpen };
  }

  /** Runs `send` on the open link, waiting for one and retrying on the next when the link
   * drops before the server answers. */
  async #request(send: (link: Link) => Promise<void>): Promise<void> {
    for (;;) {
      await this.untilOpen();
      const link = this.#live;
      if (link !== undefined) {
        const failure = await rejectionOf(send(link));
        if (failure === undefined) return;
        const refusal = refusalError(failure);
        if (refusal !== undefined) throw refusal;
      }
      // Lost. While the state still says `open`, the drop is yet to be processed: wait for
      // it rather than spin, unless a newer link is already live.
      const isStale = this.#live === undefined || this.#live === link;
      if (this.#state.value === "open" && isStale) await this.#state.changed();
    }
  }
}
