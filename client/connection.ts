/**
 * @module
 * One WebSocket to the server, as the subscriber drives it: sends messages with a `ref` and
 * matches the server's replies to them, hands broadcasts and members' comings and goings on,
 * and reports how the socket closed. Knows nothing of tokens, channels or reconnecting.
 */

import { memberEventOf } from "./members.ts";
import type { MemberEvent } from "./subscriber_types.ts";

/** How a WebSocket closed. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A broadcast as the server frames it: `{"message": ..., "channel": "..."}`, with
 * `"offset": K` when the server keeps history. */
export interface BroadcastFrame {
  readonly channel: string;
  readonly message: unknown;
  readonly offset?: number;
  /** Who published it, for a client's publication whose token names a user. */
  readonly user?: string;
}

/** A success reply: `{"ref": n, "ok": true}`, and whatever else the server put in it (with
 * history on, a join's `channels` states). */
export type Reply = Readonly<Record<string, unknown>>;

/** Options of `Connection.request()`. */
export interface RequestOptions {
  /** Called with the success reply as soon as it is read, before any frame after it is
   * handed on, so that what it records applies to those frames. */
  readonly onReply?: (reply: Reply) => void;
}

/** The server answered a message with `{"ref": n, "error": "..."}`; the message is its. */
export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplyError";
  }
}

/** The socket closed, or stopped answering, before the reply came. */
export class ConnectionLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionLostError";
  }
}

/** What a `Connection` needs besides its socket. */
export interface ConnectionOptions {
  /** Called with each broadcast received. */
  readonly onBroadcast: (frame: BroadcastFrame) => void;
  /** Called with each `joined` and `left` received, in order with the broadcasts. */
  readonly onMemberEvent: (event: MemberEvent) => void;
  /** How long to wait for the socket to open, and then for each reply, in milliseconds, before
   * closing the socket as dead; `Infinity` waits forever. */
  readonly replyTimeoutMs: number;
}

/** The close code the client uses when the server stops answering. */
export const NO_REPLY_CLOSE: CloseInfo = Object.freeze({ code: 4000, reason: "no reply" });

/** The close the client uses when it closes on purpose. */
export const CLIENT_CLOSE: CloseInfo = Object.freeze({ code: 1000, reason: "client closed" });

/** `frame` (parsed JSON) as a broadcast: `{"message": ..., "channel": "..."}`, with a numeric
 * `offset` and a string `user` kept; undefined for anything else. */
export function broadcastOf(frame: unknown): BroadcastFrame | undefined {
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return undefined;
  const { channel, message, offset, user } = frame as Record<string, unknown>;
  if (typeof channel !== "string" || !("message" in frame)) return undefined;
  return {
    channel,
    message,
    ...(typeof offset === "number" ? { offset } : {}),
    ...(typeof user === "string" ? { user } : {}),
  };
}

// readyState values, from the spec: an injected WebSocket class need not carry the constants.
const CONNECTING = 0;
const OPEN = 1;

interface Pending {
  readonly resolve: () => void;
  readonly onReply: ((reply: Reply) => void) | undefined;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/** One socket: requests with replies, broadcasts, and its close. */
export class Connection {
  readonly #socket: WebSocket;
  readonly #options: ConnectionOptions;
  readonly #pending = new Map<number, Pending>();
  #nextRef = 1;
  /** The close to report instead of the socket's, once the handshake timed out. */
  #timedOut: CloseInfo | undefined;
  /** Resolves true once the socket is open, or false if it closed first (or did not open in
   * `replyTimeoutMs`, and was closed). */
  readonly opened: Promise<boolean>;
  /** Resolves once the socket has closed; every pending request has been rejected by then.
   * A handshake that timed out reports `NO_REPLY_CLOSE`. */
  readonly closed: Promise<CloseInfo>;

  constructor(socket: WebSocket, options: ConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.opened = new Promise((resolve) => {
      const { replyTimeoutMs } = options;
      // A listener that takes the connection and never answers leaves it connecting forever.
      const timer = Number.isFinite(replyTimeoutMs)
        ? setTimeout(() => this.#onOpenTimeout(), replyTimeoutMs)
        : undefined;
      const settle = (isOpen: boolean) => {
        clearTimeout(timer);
        resolve(isOpen);
      };
      socket.addEventListener("open", () => settle(true), { once: true });
      socket.addEventListener("close", () => settle(false), { once: true });
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        const { code, reason } = this.#timedOut ?? event as CloseEvent;
        this.#rejectPending(`connection closed (${code}${reason === "" ? "" : ` ${reason}`})`);
        resolve({ code, reason });
      }, { once: true });
    });
    // A close always follows an error, and the close is what the subscriber acts on.
    socket.addEventListener("error", () => {});
    socket.addEventListener("message", (event) => this.#onMessage(event as MessageEvent));
  }

  /** Sends `message` with a fresh `ref`; resolves on the server's ok, rejects with
   * `ReplyError` on its error, or with `ConnectionLostError` when the socket closes or no
   * reply comes in time (the socket is then closed with 4000). An exception `onReply`
   * throws rejects the request. */
  request(message: Readonly<Record<string, unknown>>, options: RequestOptions = {}): Promise<void> {
    if (this.#socket.readyState !== OPEN) {
      return Promise.reject(new ConnectionLostError("connection not open"));
    }
    const ref = this.#nextRef++;
    return new Promise((resolve, reject) => {
      const { replyTimeoutMs } = this.#options;
      const timer = Number.isFinite(replyTimeoutMs)
        ? setTimeout(() => this.#onReplyTimeout(ref), replyTimeoutMs)
        : undefined;
      this.#pending.set(ref, { resolve, reject, timer, onReply: options.onReply });
      this.#socket.send(JSON.stringify({ ...message, ref }));
    });
  }

  /** Starts closing the socket, if it is connecting or open. */
  close(code: number, reason: string): void {
    const { readyState } = this.#socket;
    if (readyState === CONNECTING || readyState === OPEN) this.#socket.close(code, reason);
  }

  #onMessage(event: MessageEvent): void {
    if (typeof event.data !== "string") return;
    let frame: unknown;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return;
    const { ref, ok, error } = frame as Record<string, unknown>;
    if (typeof ref === "number" && (ok === true || typeof error === "string")) {
      this.#settle(ref, typeof error === "string" ? error : frame as Reply);
      return;
    }
    const broadcast = broadcastOf(frame);
    if (broadcast !== undefined) return this.#options.onBroadcast(broadcast);
    const change = memberEventOf(frame);
    if (change !== undefined) this.#options.onMemberEvent(change);
  }

  /** Settles the request `ref` with the server's error message or its success reply. */
  #settle(ref: number, answer: string | Reply): void {
    const pending = this.#pending.get(ref);
    if (pending === undefined) return;
    this.#pending.delete(ref);
    clearTimeout(pending.timer);
    if (typeof answer === "string") return pending.reject(new ReplyError(answer));
    try {
      pending.onReply?.(answer);
      pending.resolve();
    } catch (error) {
      pending.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Fails the handshake, which then closes at once (as 1006 in browsers, 0 in Deno). */
  #onOpenTimeout(): void {
    if (this.#socket.readyState !== CONNECTING) return;
    this.#timedOut = NO_REPLY_CLOSE;
    this.close(NO_REPLY_CLOSE.code, NO_REPLY_CLOSE.reason);
  }

  #onReplyTimeout(ref: number): void {
    const pending = this.#pending.get(ref);
    if (pending === undefined) return;
    this.#pending.delete(ref);
    pending.reject(
      new ConnectionLostError(`no reply within ${this.#options.replyTimeoutMs} ms`),
    );
    this.close(NO_REPLY_CLOSE.code, NO_REPLY_CLOSE.reason);
  }

  #rejectPending(why: string): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLostError(why));
    }
    this.#pending.clear();
  }
}
