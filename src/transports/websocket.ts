/**
 * @module
 * The WebSocket transport: one upgraded socket as a session's wire. It reads frames, holds the
 * per-socket limits (frame size, message rate), parses each frame with the protocol parser and
 * hands the message to the session's handlers, one after the other. Writes go straight to the
 * socket, which is dropped once it has more than `--max-buffered-bytes` unsent.
 */

import { parseClientMessage, type ParseResult } from "../protocol.ts";
import { CLOSE } from "../protocol.ts";
import type { SessionContext } from "../session/context.ts";
import { handleMessage, reply } from "../session/handlers.ts";
import { Session, type Wire, type WriteResult } from "../session/session.ts";
import { errorMessage, utf8LengthOver } from "../text.ts";
import { ClientFrames } from "./client_frames.ts";
import { SocketSender } from "./socket_sender.ts";
import { OPEN_TIMEOUT_MS, OpenDeadline } from "./opening.ts";

/** One WebSocket and its session. It listens to its own socket as an event listener object,
 * so it needs no closures of its own. */
export class WebSocketTransport implements Wire, EventListenerObject {
  readonly #socket: WebSocket;
  readonly session: Session;
  readonly #context: SessionContext;
  // Client messages, applied one after the other: checking a token or asking the publish hook
  // takes a round trip.
  readonly #frames: ClientFrames;
  readonly #sender: SocketSender;
  readonly #opening: OpenDeadline;

  /** `openTimeoutMs`: how long the socket may take to open before its session is ended
   * (default `OPEN_TIMEOUT_MS`). */
  constructor(
    socket: WebSocket,
    context: SessionContext,
    { openTimeoutMs = OPEN_TIMEOUT_MS }: { openTimeoutMs?: number } = {},
  ) {
    this.#socket = socket;
    this.#context = context;
    this.#sender = new SocketSender(socket, context.limits.maxBufferedBytes);
    this.session = new Session(this, context);
    const session = this.session;
    this.#frames = new ClientFrames(context.limits.maxClientMessagesPerSecond, {
      closeForLimit: () => session.closeForLimit(CLOSE.tooManyMessages),
      onError: (error) =>
        context.logger.error("client message failed", { error: errorMessage(error) }),
    });
    socket.binaryType = "arraybuffer";
    for (const type of ["open", "message", "close"]) socket.addEventListener(type, this);
    this.#opening = new OpenDeadline(socket, {
      ms: openTimeoutMs,
      what: "WebSocket",
      logger: context.logger,
      onNeverOpened: ({ code, reason }) => session.closed(code, reason),
    });
  }

  /** Sends unless the client has more than `maxBufferedBytes` waiting. */
  write(frame: string): WriteResult {
    return this.#sender.send(frame);
  }

  /** Starts the close handshake, if the socket is open. */
  close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.close(code, reason);
  }

  /** Dispatches the socket's events. */
  handleEvent(event: Event): void {
    if (event.type === "message") this.#onMessage(event as MessageEvent);
    else if (event.type === "open") {
      if (!this.#opening.opened()) return;
      this.session.open({ authTimeoutMs: this.#context.limits.authTimeoutMs });
    } else if (event.type === "close") {
      this.#opening.closed();
      const { code, reason } = event as CloseEvent;
      // Deno may fire close twice (a missed ping, then the TCP end); the session ends once.
      this.session.closed(code, reason);
    }
  }

  #onMessage(event: MessageEvent): void {
    const { limits } = this.#context;
    const session = this.session;
    if (!this.#frames.admit()) return;
    const data: unknown = event.data;
    if (typeof data !== "string") {
      // Binary frames are not part of the protocol and carry no ref to answer.
      const bytes = data instanceof ArrayBuffer ? data.byteLength : 0;
      if (bytes > limits.maxFrameBytes) session.closeForLimit(CLOSE.frameTooLarge);
      return;
    }
    if (utf8LengthOver(data, limits.maxFrameBytes) !== null) {
      return session.closeForLimit(CLOSE.frameTooLarge);
    }
    const result = parseClientMessage(data);
    this.#frames.apply(() => this.#answer(result));
  }

  #answer(result: ParseResult): Promise<void> | void {
    if (!result.ok) return reply(this.session, result.ref, result.error);
    return handleMessage(this.session, result.message);
  }
}
