/**
 * @module
 * The Pusher transport: one WebSocket upgraded at `/app/{key}` as a Pusher session's wire. It
 * reads frames, holds the per-socket limits (frame size, frame rate), parses each frame with
 * the Pusher parser and hands it to the Pusher session, one after the other; it pings a silent
 * client after the app's `activity_timeout` and closes it when no answer comes (checked by a
 * `PusherActivity` shared by the endpoint's connections). A connection
 * refused at admission is told why with `pusher:error` and the same close code. Shutdown's
 * close becomes Pusher's 4200, "reconnect".
 */

import { CLOSE } from "../protocol.ts";
import {
  parsePusherMessage,
  PUSHER_CODES,
  PUSHER_PING,
  type PusherParseResult,
  renderPusherError,
} from "../protocol/pusher.ts";
import type { SessionContext } from "../session/context.ts";
import type { Admission } from "../session/pusher_apps.ts";
import { CLIENT_EVENTS_PER_SECOND, PusherSession } from "../session/pusher_session.ts";
import type { Session, Wire, WriteResult } from "../session/session.ts";
import { errorMessage, utf8LengthOver } from "../text.ts";
import { ClientFrames } from "./client_frames.ts";
import { SocketSender } from "./socket_sender.ts";
import { OPEN_TIMEOUT_MS, OpenDeadline } from "./opening.ts";

/** The longest wait for a `pusher:pong` after the server's ping, in seconds. */
const PONG_WAIT_SECONDS = 30;

/** One Pusher WebSocket and its session (absent for a refused connection). */
export class PusherTransport implements Wire, EventListenerObject {
  readonly #socket: WebSocket;
  readonly #context: SessionContext;
  readonly #admission: Admission;
  readonly #pusher: PusherSession | null;
  /** The session the endpoint tracks; null for a refused connection, which closes itself as
   * it opens. */
  readonly session: Session | null;
  // Frames a second: never below twice the client event rate, so that a client over that rate
  // gets Pusher's 4301 and stays, instead of being closed by the frame limit.
  readonly #frames: ClientFrames;
  readonly #sender: SocketSender;
  #lastHeardAt = Date.now();
  /** When the server's `pusher:ping` went out unanswered; 0: none is. */
  #pingedAt = 0;
  readonly #activity: PusherActivity;
  #isWatched = false;
  // A refused connection holds nothing to give back, so has no deadline.
  readonly #opening: OpenDeadline | null;

  /** `openTimeoutMs`: how long the socket may take to open before its session is ended
   * (default `OPEN_TIMEOUT_MS`). */
  constructor(
    socket: WebSocket,
    context: SessionContext,
    { admission, activity, openTimeoutMs = OPEN_TIMEOUT_MS }: {
      admission: Admission;
      activity: PusherActivity;
      openTimeoutMs?: number;
    },
  ) {
    this.#socket = socket;
    this.#context = context;
    this.#sender = new SocketSender(socket, context.limits.maxBufferedBytes);
    this.#admission = admission;
    this.#activity = activity;
    if (admission.ok) {
      this.#pusher = new PusherSession(this, admission);
      this.session = this.#pusher.session;
    } else {
      this.#pusher = null;
      this.session = null;
    }
    const framesPerSecond = Math.max(
      context.limits.maxClientMessagesPerSecond,
      2 * CLIENT_EVENTS_PER_SECOND,
    );
    this.#frames = new ClientFrames(framesPerSecond, {
      closeForLimit: () => this.session?.closeForLimit(CLOSE.tooManyMessages),
      onError: (error) =>
        context.logger.error("Pusher message failed", { error: errorMessage(error) }),
    });
    for (const type of ["open", "message", "close"]) socket.addEventListener(type, this);
    this.#opening = !admission.ok ? null : new OpenDeadline(socket, {
      ms: openTimeoutMs,
      what: "Pusher WebSocket",
      logger: context.logger,
      onNeverOpened: ({ code, reason }) => this.#ended(code, reason),
    });
  }

  /** Sends unless the client has more than `maxBufferedBytes` waiting. */
  write(frame: string): WriteResult {
    return this.#sender.send(frame);
  }

  /** Starts the close handshake; the server's shutdown becomes Pusher's 4200, and a user's
   * disconnection (`terminate_connections`) Pusher's 4009, each after a `pusher:error` saying
   * so. */
  close(code: number, reason: string): void {
    if (this.#socket.readyState !== WebSocket.OPEN) return;
    if (code === CLOSE.shuttingDown.code) {
      code = PUSHER_CODES.reconnect;
      this.write(renderPusherError(code, "Server is shutting down: reconnect"));
    } else if (code === CLOSE.disconnected.code) {
      code = PUSHER_CODES.unauthorized;
      reason = "Connections of this user terminated";
      this.write(renderPusherError(code, reason));
    }
    this.#socket.close(code, reason);
  }

  /** Dispatches the socket's events. */
  handleEvent(event: Event): void {
    if (event.type === "message") this.#onMessage(event as MessageEvent);
    else if (event.type === "open") this.#onOpen();
    else if (event.type === "close") {
      this.#opening?.closed();
      const { code, reason } = event as CloseEvent;
      this.#ended(code, reason);
    }
  }

  /** Gives back what the connection held, once. */
  #ended(code: number, reason: string): void {
    if (this.#isWatched) this.#activity.unwatch(this, this.#timeoutMs);
    if (this.#admission.ok) this.#admission.release();
    this.#pusher?.closed();
    this.session?.closed(code, reason);
  }

  #onOpen(): void {
    if (this.#opening?.opened() === false) return;
    const admission = this.#admission;
    if (!admission.ok) {
      this.write(renderPusherError(admission.code, admission.message));
      this.#socket.close(admission.code, admission.message);
      return;
    }
    const pusher = this.#pusher!;
    if (!pusher.open()) return;
    admission.bind(pusher.socketId, pusher.session);
    this.#isWatched = true;
    this.#activity.watch(this, this.#timeoutMs);
  }

  /** The app's activity timeout, in milliseconds. */
  get #timeoutMs(): number {
    return this.#admission.ok ? this.#admission.app.activityTimeout * 1000 : 0;
  }

  #onMessage(event: MessageEvent): void {
    const pusher = this.#pusher;
    if (pusher === null) return;
    this.#lastHeardAt = Date.now();
    this.#pingedAt = 0;
    const { limits } = this.#context;
    const session = pusher.session;
    if (!this.#frames.admit()) return;
    const data: unknown = event.data;
    if (typeof data !== "string") {
      const bytes = data instanceof ArrayBuffer ? data.byteLength : 0;
      if (bytes > limits.maxFrameBytes) return session.closeForLimit(CLOSE.frameTooLarge);
      return pusher.error(null, "expected text frames");
    }
    if (utf8LengthOver(data, limits.maxFrameBytes) !== null) {
      return session.closeForLimit(CLOSE.frameTooLarge);
    }
    const result = parsePusherMessage(data);
    this.#frames.apply(() => this.#answer(pusher, result));
  }

  #answer(pusher: PusherSession, result: PusherParseResult): Promise<void> | void {
    if (!result.ok) return pusher.refuse(result);
    return pusher.handle(result.message);
  }

  /** Called by the activity watch, `now` in ms: a client silent for its activity timeout is
   * pinged; one still silent `PONG_WAIT_SECONDS` (at most the timeout) after the ping is closed
   * with 4201. */
  checkActivity(now: number): void {
    const pusher = this.#pusher;
    if (pusher === null) return;
    const timeoutMs = this.#timeoutMs;
    if (this.#pingedAt !== 0) {
      if (now - this.#pingedAt < Math.min(PONG_WAIT_SECONDS * 1000, timeoutMs)) return;
      pusher.session.closeFor(
        { code: PUSHER_CODES.pongTimeout, reason: "Pong reply not received" },
        "closing silent Pusher connection",
        { level: "info" },
      );
      return;
    }
    if (now - this.#lastHeardAt < timeoutMs) return;
    this.#pingedAt = now;
    pusher.session.write(PUSHER_PING);
  }
}

/** How many checks an activity timeout is split into: a silent client is pinged at most a
 * quarter of its timeout late. */
const CHECKS_PER_TIMEOUT = 4;

/** The longest and shortest time between two checks, in milliseconds. */
const MAX_CHECK_MS = 5_000;
const MIN_CHECK_MS = 20;

/** Watches the activity of an endpoint's Pusher connections: one interval per activity timeout
 * in use, running while a connection has it, instead of one timer per connection (which cost
 * about 0.7 KiB each). */
export class PusherActivity {
  /** Activity timeout (ms) → the connections that have it, and their interval. */
  readonly #watches = new Map<
    number,
    { transports: Set<PusherTransport>; timer: ReturnType<typeof setInterval> }
  >();

  /** Checks `transport`, whose app's activity timeout is `timeoutMs`, until `unwatch`. */
  watch(transport: PusherTransport, timeoutMs: number): void {
    let watch = this.#watches.get(timeoutMs);
    if (watch === undefined) {
      const transports = new Set<PusherTransport>();
      const periodMs = Math.min(
        MAX_CHECK_MS,
        Math.max(MIN_CHECK_MS, timeoutMs / CHECKS_PER_TIMEOUT),
      );
      const timer = setInterval(() => {
        const now = Date.now();
        for (const each of transports) each.checkActivity(now);
      }, periodMs);
      this.#watches.set(timeoutMs, watch = { transports, timer });
    }
    watch.transports.add(transport);
  }

  /** Stops checking `transport`; the interval goes with its last connection. */
  unwatch(transport: PusherTransport, timeoutMs: number): void {
    const watch = this.#watches.get(timeoutMs);
    if (watch === undefined || !watch.transports.delete(transport)) return;
    if (watch.transports.size > 0) return;
    clearInterval(watch.timer);
    this.#watches.delete(timeoutMs);
  }
}
