/**
 * @module
 * The Pusher transport: one WebSocket upgraded at `/app/{key}` as a Pusher session's wire. It
 * reads frames, holds the per-socket limits (frame size, frame rate), parses each frame with
 * the Pusher parser and hands it to the Pusher session, one after the other; it pings a silent
 * client after the app's `activity_timeout` and closes it when no answer comes. A connection
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
import { errorMessage, maxUtf8Length, utf8LengthOver } from "../text.ts";

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
  readonly #frameRate: number;
  #allowance: number;
  #allowanceAt = Date.now();
  #applying: Promise<void> = Promise.resolve();
  #bufferedBound = 0;
  #lastHeardAt = Date.now();
  #isPinged = false;
  #activityTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WebSocket, context: SessionContext, admission: Admission) {
    this.#socket = socket;
    this.#context = context;
    this.#admission = admission;
    if (admission.ok) {
      this.#pusher = new PusherSession(this, admission);
      this.session = this.#pusher.session;
    } else {
      this.#pusher = null;
      this.session = null;
    }
    this.#frameRate = Math.max(
      context.limits.maxClientMessagesPerSecond,
      2 * CLIENT_EVENTS_PER_SECOND,
    );
    this.#allowance = this.#frameRate;
    for (const type of ["open", "message", "close"]) socket.addEventListener(type, this);
  }

  /** Sends unless the client has more than `maxBufferedBytes` waiting. */
  write(frame: string): WriteResult {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return "closed";
    const max = this.#context.limits.maxBufferedBytes;
    if (this.#bufferedBound > max) {
      const buffered = socket.bufferedAmount;
      this.#bufferedBound = buffered;
      if (buffered > max) return { overflowBytes: buffered };
    }
    this.#bufferedBound += maxUtf8Length(frame);
    socket.send(frame);
    return "sent";
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
      clearTimeout(this.#activityTimer);
      if (this.#admission.ok) this.#admission.release();
      this.#pusher?.closed();
      const { code, reason } = event as CloseEvent;
      this.session?.closed(code, reason);
    }
  }

  #onOpen(): void {
    const admission = this.#admission;
    if (!admission.ok) {
      this.write(renderPusherError(admission.code, admission.message));
      this.#socket.close(admission.code, admission.message);
      return;
    }
    const pusher = this.#pusher!;
    if (!pusher.open()) return;
    admission.bind(pusher.socketId, pusher.session);
    this.#armActivityTimer(admission.app.activityTimeout * 1000);
  }

  #onMessage(event: MessageEvent): void {
    const pusher = this.#pusher;
    if (pusher === null) return;
    this.#lastHeardAt = Date.now();
    this.#isPinged = false;
    const { limits } = this.#context;
    const session = pusher.session;
    if (!this.#withinRate()) {
      this.#applying = this.#applying.then(() => session.closeForLimit(CLOSE.tooManyMessages));
      return;
    }
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
    this.#applying = this.#applying.then(() => this.#answer(pusher, result)).catch((error) =>
      this.#context.logger.error("Pusher message failed", { error: errorMessage(error) })
    );
  }

  #answer(pusher: PusherSession, result: PusherParseResult): Promise<void> | void {
    if (!result.ok) return pusher.error(null, result.error);
    return pusher.handle(result.message);
  }

  /** After `delayMs`: a client silent for its activity timeout is pinged; one still silent
   * `PONG_WAIT_SECONDS` (at most the timeout) after the ping is closed with 4201. */
  #armActivityTimer(delayMs: number): void {
    const pusher = this.#pusher!;
    this.#activityTimer = setTimeout(() => {
      const timeoutMs = pusher.app.activityTimeout * 1000;
      const silentMs = Date.now() - this.#lastHeardAt;
      if (this.#isPinged) {
        pusher.session.closeFor(
          { code: PUSHER_CODES.pongTimeout, reason: "Pong reply not received" },
          "closing silent Pusher connection",
          { level: "info" },
        );
        return;
      }
      if (silentMs < timeoutMs) return this.#armActivityTimer(timeoutMs - silentMs);
      this.#isPinged = true;
      pusher.session.write(PUSHER_PING);
      this.#armActivityTimer(Math.min(PONG_WAIT_SECONDS * 1000, timeoutMs));
    }, delayMs);
  }

  #withinRate(): boolean {
    const rate = this.#frameRate;
    const now = Date.now();
    this.#allowance = Math.min(rate, this.#allowance + (now - this.#allowanceAt) * rate / 1000);
    this.#allowanceAt = now;
    if (this.#allowance < 1) return false;
    this.#allowance--;
    return true;
  }
}
