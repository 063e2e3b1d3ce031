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
import { MessageQueue } from "./message_queue.ts";
import { SocketSender } from "./socket_sender.ts";
import { RateLimit } from "../rate_limit.ts";
import { NEVER_OPENED, OPEN_TIMEOUT_MS, OPENED_LATE } from "./opening.ts";

/** One WebSocket and its session. It listens to its own socket as an event listener object,
 * so it needs no closures of its own. */
export class WebSocketTransport implements Wire, EventListenerObject {
  readonly #socket: WebSocket;
  readonly session: Session;
  readonly #context: SessionContext;
  readonly #rate: RateLimit;
  // Client messages are applied one after the other: checking a token or asking the publish
  // hook takes a round trip.
  readonly #messages: MessageQueue;
  // Closing for too many messages: later frames are not applied.
  #isOverLimit = false;
  readonly #sender: SocketSender;
  // Until the socket's first event; see opening.ts.
  readonly #openTimer: ReturnType<typeof setTimeout>;
  #isForgotten = false;

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
    this.#rate = new RateLimit(context.limits.maxClientMessagesPerSecond);
    // As many as the rate limit lets through at once.
    this.#messages = new MessageQueue(
      context.limits.maxClientMessagesPerSecond,
      (error) => context.logger.error("client message failed", { error: errorMessage(error) }),
    );
    socket.binaryType = "arraybuffer";
    for (const type of ["open", "message", "close"]) socket.addEventListener(type, this);
    this.#openTimer = setTimeout(() => this.#onOpenTimeout(), openTimeoutMs);
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
      clearTimeout(this.#openTimer);
      if (this.#isForgotten) return this.#socket.close(OPENED_LATE.code, OPENED_LATE.reason);
      this.session.open({ authTimeoutMs: this.#context.limits.authTimeoutMs });
    } else if (event.type === "close") {
      clearTimeout(this.#openTimer);
      const { code, reason } = event as CloseEvent;
      // Deno may fire close twice (a missed ping, then the TCP end); the session ends once.
      this.session.closed(code, reason);
    }
  }

  /** Ends the session of a socket still connecting: it will never open. */
  #onOpenTimeout(): void {
    if (this.#socket.readyState !== WebSocket.CONNECTING) return;
    this.#isForgotten = true;
    this.#context.logger.info("forgetting a WebSocket that never opened");
    this.session.closed(NEVER_OPENED.code, NEVER_OPENED.reason);
  }

  #onMessage(event: MessageEvent): void {
    const { limits } = this.#context;
    const session = this.session;
    if (this.#isOverLimit) return;
    if (!this.#rate.take()) {
      // After the replies still owed to the frames within the limit.
      this.#isOverLimit = true;
      this.#messages.last(() => session.closeForLimit(CLOSE.tooManyMessages));
      return;
    }
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
    if (!this.#messages.add(() => this.#answer(result))) {
      // The client sends faster than its messages are applied (the publish hook answers
      // slowly, say): at once, since the replies owed may take long to come.
      this.#isOverLimit = true;
      session.closeForLimit(CLOSE.tooManyMessages);
    }
  }

  #answer(result: ParseResult): Promise<void> | void {
    if (!result.ok) return reply(this.session, result.ref, result.error);
    return handleMessage(this.session, result.message);
  }
}
