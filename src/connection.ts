/**
 * @module
 * One subscriber's WebSocket after the upgrade: adapts it to the hub's `Subscriber`, feeds its
 * frames through the protocol parser, applies them to the hub, and enforces the per-connection
 * limits (frame size, message rate, time to authenticate, slow consumers). Knows nothing of
 * HTTP or of the other connections.
 */

import type { ConnectionContext } from "./connection_context.ts";
import type { History, Resume } from "./history.ts";
import type { Subscriber } from "./hub.ts";
import type { LogFields } from "./log.ts";
import {
  type ClientMessage,
  CLOSE,
  type CloseSpec,
  parseClientMessage,
  type ParseResult,
  type Ref,
  renderJoinReply,
  renderReply,
} from "./protocol.ts";
import { JoinGate } from "./resume.ts";
import { GrantKeeper } from "./grant_keeper.ts";
import { checkAccessToken } from "./access.ts";
import { ConnectionEvents } from "./webhooks/events.ts";
import { clientReason } from "./cluster/errors.ts";
import { errorMessage, maxUtf8Length, utf8LengthOver } from "./text.ts";
import { mintToken, tokenFingerprint } from "./tokens.ts";

export type {
  ConnectionContext,
  ConnectionLimits,
  ConnectionTracker,
} from "./connection_context.ts";

/** One WebSocket, as the hub and the socket's events see it. It listens to its own socket as
 * an event listener object, so it needs no closures of its own. */
export class Connection implements Subscriber, EventListenerObject {
  readonly #socket: WebSocket;
  readonly #context: ConnectionContext;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  // A token bucket: up to maxClientMessagesPerSecond messages, refilled at that rate.
  #allowance: number;
  #allowanceAt = Date.now();
  #isClosed = false;
  // Client messages are applied one after the other: checking a token may take a round trip.
  #applying: Promise<void> = Promise.resolve();
  // Live frames held back while a join with history is answered and replayed.
  readonly #joins = new JoinGate();
  // What the token it authenticated with grants, and when that expires.
  readonly #grant = new GrantKeeper();
  readonly #events: ConnectionEvents;
  // An upper bound on the bytes the socket has queued: its last read `bufferedAmount` plus
  // the most that was sent since. Reading `bufferedAmount` is a call into the runtime, so
  // `send` reads it only when this bound says the queue could be over the limit.
  #bufferedBound = 0;

  constructor(socket: WebSocket, context: ConnectionContext) {
    this.#socket = socket;
    this.#context = context;
    this.#allowance = context.limits.maxClientMessagesPerSecond;
    this.#events = new ConnectionEvents(context.events, context.nodeId);
    socket.binaryType = "arraybuffer";
    for (const type of ["open", "message", "close"]) socket.addEventListener(type, this);
  }

  /** Sends unless the client has more than `maxBufferedBytes` waiting: then it is dropped. */
  send(frame: string, channel?: string, offset?: number): boolean {
    if (this.#joins.intercept(frame, channel, offset)) return true;
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    const max = this.#context.limits.maxBufferedBytes;
    if (this.#bufferedBound > max) {
      const buffered = socket.bufferedAmount;
      this.#bufferedBound = buffered;
      if (buffered > max) {
        this.#context.metrics.slowConsumersDropped++;
        this.#closeFor(CLOSE.slowConsumer, "dropping slow consumer", {
          level: "warn",
          bufferedBytes: buffered,
        });
        return false;
      }
    }
    this.#sendNow(frame);
    return true;
  }

  /** Starts the close handshake, if the socket is open. */
  close(code: number, reason: string): void {
    clearTimeout(this.#authTimer);
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
  }

  /** Dispatches the socket's events. */
  handleEvent(event: Event): void {
    if (event.type === "message") this.#onMessage(event as MessageEvent);
    else if (event.type === "open") this.#onOpen();
    else if (event.type === "close") this.#onClose(event as CloseEvent);
  }

  #onOpen(): void {
    const { hub, requireAuth, limits, logger, tracker } = this.#context;
    const closing = tracker.closing();
    if (closing !== undefined) return this.close(closing.code, closing.reason);
    hub.add(this);
    if (!requireAuth) {
      const token = mintToken();
      hub.authenticate(this, token);
      this.#announce(token);
    } else if (limits.authTimeoutMs > 0) {
      this.#authTimer = setTimeout(() => this.#onAuthTimeout(), limits.authTimeoutMs);
    }
    logger.debug("connection opened");
  }

  #onClose(event: CloseEvent): void {
    // Deno may fire close twice (a missed ping, then the TCP end).
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearTimeout(this.#authTimer);
    this.#grant[Symbol.dispose]();
    this.#context.hub.remove(this);
    this.#context.tracker.forget(this);
    this.#context.logger.debug("connection closed", { code: event.code });
    this.#events.closed(event.code, event.reason);
  }

  #onMessage(event: MessageEvent): void {
    const { limits } = this.#context;
    if (!this.#withinRate()) {
      // After the replies still owed to the frames within the limit.
      this.#applying = this.#applying.then(() => this.#closeForLimit(CLOSE.tooManyMessages));
      return;
    }
    const data: unknown = event.data;
    if (typeof data !== "string") {
      // Binary frames are not part of the protocol and carry no ref to answer.
      const bytes = data instanceof ArrayBuffer ? data.byteLength : 0;
      if (bytes > limits.maxFrameBytes) this.#closeForLimit(CLOSE.frameTooLarge);
      return;
    }
    if (utf8LengthOver(data, limits.maxFrameBytes) !== null) {
      return this.#closeForLimit(CLOSE.frameTooLarge);
    }
    const result = parseClientMessage(data);
    this.#applying = this.#applying.then(() => this.#answer(result)).catch((error) =>
      this.#context.logger.error("client message failed", { error: errorMessage(error) })
    );
  }

  async #answer(result: ParseResult): Promise<void> {
    if (!result.ok) {
      if (result.ref !== undefined) this.#reply(result.ref, result.error);
      return;
    }
    const { message } = result;
    if (message.type === "channels" && this.#context.history !== null) {
      return await this.#joinWithHistory(message, this.#context.history);
    }
    const error = await this.#apply(message);
    if (message.ref !== undefined) this.#reply(message.ref, error);
  }

  /** Applies a channels message with history on: live frames are held from the join on,
   * then the reply goes out, then the replay, then the held frames the replay did not hold. */
  async #joinWithHistory(
    message: ClientMessage & { type: "channels" },
    history: History,
  ): Promise<void> {
    const { hub, membership } = this.#context;
    this.#joins.hold();
    const before = new Set(hub.sessionOf(this)?.channels ?? []);
    let resume: Resume = { states: new Map(), replay: [] };
    try {
      const error = await this.#apply(message);
      if (error !== undefined) {
        if (message.ref !== undefined) this.#reply(message.ref, error);
        return;
      }
      const joined = hub.sessionOf(this)?.channels ?? new Set<string>();
      try {
        resume = await history.resume(message.join.filter((c) => joined.has(c)), message.since);
      } catch (error) {
        // Without positions the join cannot keep its promise: undo it, and say why.
        hub.updateChannels(this, [], message.join.filter((channel) => !before.has(channel)));
        await membership.synced();
        this.#context.logger.warn("join positions not read", { error: errorMessage(error) });
        if (message.ref !== undefined) {
          this.#reply(message.ref, `channels.join: cannot be joined now (${clientReason(error)})`);
        }
        return;
      }
      if (message.ref !== undefined && this.#socket.readyState === WebSocket.OPEN) {
        this.#sendNow(renderJoinReply(message.ref, resume.states));
      }
    } finally {
      this.#joins.release(resume, (frame, channel, offset) => this.send(frame, channel, offset));
    }
  }

  /** Applies one message to the hub; resolves to why it was refused, or undefined, once the
   * cluster sees the change. */
  async #apply(message: ClientMessage): Promise<string | undefined> {
    const { hub, limits, membership } = this.#context;
    if (message.type === "auth") return await this.#authenticate(message.token);
    const denied = this.#grant.firstDenied(message.join);
    if (denied !== -1 && hub.isAuthenticated(this)) {
      return `channels.join[${denied}]: not permitted by this token`;
    }
    const max = limits.maxChannelsPerConnection;
    switch (hub.updateChannels(this, message.join, message.leave, max)) {
      case "ok":
        await membership.synced();
        return undefined;
      case "unauthenticated":
        return "channels: authenticate first";
      case "too-many-channels":
        return `channels.join: at most ${max} channels per connection`;
    }
  }

  async #authenticate(token: string): Promise<string | undefined> {
    const { hub, membership } = this.#context;
    // On refusal the connection stays as it was: anonymous, or authenticated with its last token.
    const checked = await checkAccessToken(token, this.#context);
    if (!checked.ok) return checked.error;
    const { grant } = checked;
    if (!hub.authenticate(this, token, grant.user)) return "connection is closing";
    clearTimeout(this.#authTimer);
    this.#context.tracker.authenticated(this);
    this.#grant.set(grant, () => this.#closeFor(CLOSE.expired, "token expired", { level: "info" }));
    // A narrower token than the last one: leave what it does not grant.
    const denied = this.#grant.denied(hub.sessionOf(this)?.channels ?? []);
    if (denied.length > 0) hub.updateChannels(this, [], denied);
    this.#announce(token);
    await membership.synced();
    return undefined;
  }

  /** Logs the authentication and tells the webhooks. */
  #announce(token: string): void {
    const fingerprint = tokenFingerprint(token);
    this.#context.logger.debug("connection authenticated", { token: fingerprint });
    this.#events.authenticated(fingerprint, this.#grant.user);
  }

  #reply(ref: Ref, error: string | undefined): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#sendNow(renderReply(ref, error));
  }

  #sendNow(frame: string): void {
    this.#bufferedBound += maxUtf8Length(frame);
    this.#socket.send(frame);
  }

  /** Takes one message from the token bucket; false once the client sends faster than
   * `maxClientMessagesPerSecond` for longer than a one-second burst. */
  #withinRate(): boolean {
    const rate = this.#context.limits.maxClientMessagesPerSecond;
    const now = Date.now();
    this.#allowance = Math.min(rate, this.#allowance + (now - this.#allowanceAt) * rate / 1000);
    this.#allowanceAt = now;
    if (this.#allowance < 1) return false;
    this.#allowance--;
    return true;
  }

  #onAuthTimeout(): void {
    this.#authTimer = undefined;
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    if (this.#context.hub.isAuthenticated(this)) return;
    this.#closeForLimit(CLOSE.authTimeout);
  }

  #closeForLimit(close: CloseSpec): void {
    this.#context.metrics.connectionsClosedForLimits++;
    this.#closeFor(close, "closing connection", { level: "info" });
  }

  /** Forgets the connection at once, logs why, and starts the close handshake. */
  #closeFor(
    { code, reason }: CloseSpec,
    message: string,
    { level, ...fields }: { level: "info" | "warn" } & LogFields,
  ): void {
    const { hub, logger } = this.#context;
    logger[level](message, { code, reason, ...fields });
    hub.remove(this);
    this.close(code, reason);
  }
}
