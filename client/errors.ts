/**
 * @module
 * The errors the client throws: `BoreasApiError` for HTTP API answers that are not a success,
 * `BoreasSubscriberError` for a subscription the server refused or ended. Network failures are
 * not wrapped: `fetch` and `WebSocket` errors reach the caller as they are.
 */

/** The HTTP API answered with an error status (or with a body the client could not read).
 *
 * `errors` holds the server's `{"errors": [...]}` messages; when the body had another shape
 * (a proxy's error page, say), it holds one message the client made up from the status.
 *
 * ```ts
 * import { BoreasApi, BoreasApiError } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001" });
 * try {
 *   await api.broadcast("news", { text: "hi" });
 * } catch (error) {
 *   if (!(error instanceof BoreasApiError)) throw error;
 *   console.error(error.status, error.errors); // e.g. 401 ["authorization: ..."]
 * }
 * ```
 */
export class BoreasApiError extends Error {
  /** The HTTP status of the answer, e.g. 400, 401, 404 or 503. */
  readonly status: number;
  /** What the server said was wrong, one message per problem; never empty. */
  readonly errors: readonly string[];

  /** `request` names the call without secrets, e.g. `DELETE /token/{token}/`. */
  constructor(
    status: number,
    errors: readonly string[],
    options: ErrorOptions & { request?: string } = {},
  ) {
    const { request, ...errorOptions } = options;
    const prefix = request === undefined ? "" : `${request}: `;
    super(`${prefix}${status} ${errors.join("; ")}`, errorOptions);
    this.name = "BoreasApiError";
    this.status = status;
    this.errors = Object.freeze([...errors]);
  }
}

/** Why a subscription failed or ended:
 *
 * - `auth-rejected`: the server refused the token (e.g. `access_token: unknown token`);
 * - `token-revoked`: the server closed the connection with 4001, the token was revoked;
 * - `auth-timeout`: the server closed with 4003 three connections in a row;
 * - `rejected`: the server refused a `join()` or `leave()` (the subscription goes on), or
 *   refused to re-join the channels after a reconnect (it ends);
 * - `disconnected`: the connection dropped and reconnecting is off, or no socket could be made
 *   (with `transport: "websocket"`);
 * - `closed`: the subscriber was closed by its owner before the call could complete.
 *
 * ```ts
 * import type { SubscriberErrorKind } from "./mod.ts";
 *
 * const isFinal = (kind: SubscriberErrorKind) => kind !== "rejected";
 * ```
 */
export type SubscriberErrorKind =
  | "auth-rejected"
  | "token-revoked"
  | "auth-timeout"
  | "rejected"
  | "disconnected"
  | "closed";

/** A subscription the server refused or ended, or a call on a closed subscriber.
 *
 * ```ts
 * import { BoreasSubscriber, BoreasSubscriberError } from "./mod.ts";
 *
 * await using subscriber = new BoreasSubscriber({ url: "ws://localhost:8002/", token: "T" });
 * try {
 *   for await (const { channel, message } of subscriber) console.log(channel, message);
 * } catch (error) {
 *   if (error instanceof BoreasSubscriberError && error.kind === "token-revoked") {
 *     console.log("revoked:", error.closeCode); // 4001
 *   } else throw error;
 * }
 * ```
 */
export class BoreasSubscriberError extends Error {
  /** What went wrong; see `SubscriberErrorKind`. */
  readonly kind: SubscriberErrorKind;
  /** The close code, when a close caused this error (4001, 4003, 1006...): the WebSocket's,
   * or over SSE the one the stream's final `event: close` carried (1006 when it ended
   * without one). */
  readonly closeCode: number | undefined;
  /** The close reason, when a close caused this error (`token revoked`). */
  readonly closeReason: string | undefined;

  /** `close` is the close that caused the error, if one did. */
  constructor(
    kind: SubscriberErrorKind,
    message: string,
    options: ErrorOptions & { close?: { code: number; reason: string } } = {},
  ) {
    const { close, ...errorOptions } = options;
    super(message, errorOptions);
    this.name = "BoreasSubscriberError";
    this.kind = kind;
    this.closeCode = close?.code;
    this.closeReason = close?.reason;
  }
}
