/**
 * @module
 * Sending frames on a server WebSocket without letting a client that stopped reading grow the
 * server's memory: past `maxBufferedBytes` unsent, the send is refused as an overflow, and the
 * session drops the client as a slow consumer. Shared by the native and Pusher transports.
 */

import type { WriteResult } from "../session/session.ts";
import { maxUtf8Length } from "../text.ts";

/** One socket's sends, bounded by what it has queued. */
export class SocketSender {
  readonly #socket: WebSocket;
  readonly #maxBufferedBytes: number;
  // An upper bound on the bytes the socket has queued: its last read `bufferedAmount` plus the
  // most that was sent since. Reading `bufferedAmount` is a call into the runtime, so `send`
  // reads it only when this bound says the queue could be over the limit.
  #bufferedBound = 0;

  constructor(socket: WebSocket, maxBufferedBytes: number) {
    this.#socket = socket;
    this.#maxBufferedBytes = maxBufferedBytes;
  }

  /** Sends `frame` unless the socket is not open, or has more than `maxBufferedBytes` unsent. */
  send(frame: string): WriteResult {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return "closed";
    const max = this.#maxBufferedBytes;
    if (this.#bufferedBound > max) {
      const buffered = socket.bufferedAmount;
      this.#bufferedBound = buffered;
      if (buffered > max) return { overflowBytes: buffered };
    }
    this.#bufferedBound += maxUtf8Length(frame);
    socket.send(frame);
    return "sent";
  }
}
