/**
 * @module
 * The deadline for an upgraded WebSocket to open, shared by the native and Pusher transports.
 * When a client resets its connection before the handshake's answer reaches it, Deno 2.9 fires
 * no event at all on the server's socket: it stays `CONNECTING` for ever. Without a deadline,
 * such a socket would hold its place in `--max-connections`, `--max-anonymous-connections` and
 * its Pusher app's quota until a restart, so a few hundred bare upgrade requests, each reset at
 * once, would lock every client out.
 */

import type { Logger } from "../log.ts";
import type { CloseSpec } from "../protocol.ts";

/** How long an upgraded socket may take to open, in milliseconds: an answer of a few hundred
 * bytes on a fresh connection, so anything longer is a socket that will never open. */
export const OPEN_TIMEOUT_MS = 10_000;

/** How a transport ends the session of a socket that did not open in time. */
export const NEVER_OPENED: CloseSpec = { code: 1006, reason: "never opened" };

/** The close of a socket that opens after its deadline: it has been forgotten already. */
export const OPENED_LATE: CloseSpec = { code: 1013, reason: "opened too late: try again" };

/** One upgraded socket's deadline to open. */
export class OpenDeadline {
  readonly #socket: WebSocket;
  readonly #timer: ReturnType<typeof setTimeout>;
  #isForgotten = false;

  /** Past `ms`, a `socket` still connecting is forgotten: logged (as `what`), and
   * `onNeverOpened` ends its session with `NEVER_OPENED`. */
  constructor(
    socket: WebSocket,
    { ms, what, logger, onNeverOpened }: {
      ms: number;
      what: string;
      logger: Logger;
      onNeverOpened: (close: CloseSpec) => void;
    },
  ) {
    this.#socket = socket;
    this.#timer = setTimeout(() => {
      if (socket.readyState !== WebSocket.CONNECTING) return;
      this.#isForgotten = true;
      logger.info(`forgetting a ${what} that never opened`);
      onNeverOpened(NEVER_OPENED);
    }, ms);
  }

  /** At the socket's open event: false when it was forgotten already (it is then closed with
   * `OPENED_LATE`). */
  opened(): boolean {
    clearTimeout(this.#timer);
    if (!this.#isForgotten) return true;
    this.#socket.close(OPENED_LATE.code, OPENED_LATE.reason);
    return false;
  }

  /** At the socket's close event. */
  closed(): void {
    clearTimeout(this.#timer);
  }
}
