/**
 * @module
 * The error a backend throws when it cannot do what was asked, whichever backend it is, and
 * what may be told of it to whom: the detail (an address, a server's error) is for the log and
 * for holders of the API key, never for clients. Nothing matches on an error's text.
 */

/** A backend could not be reached or did not answer. The API answers it 503. */
export class BackendUnavailableError extends Error {
  /** What clients, and `/health` asked without the API key, are told: `<backend>: unavailable`. */
  readonly reason: string;

  /** `message` is the detail, prefixed with `<backend>: ` when it is not already; it never
   * holds a password. */
  constructor(backend: string, message: string, options?: ErrorOptions) {
    const prefix = `${backend}: `;
    super(message.startsWith(prefix) ? message : prefix + message, options);
    this.name = "BackendUnavailableError";
    this.reason = unavailableReason(backend);
  }
}

/** What clients are told when `backend` cannot answer. */
export function unavailableReason(backend: string): string {
  return `${backend}: unavailable`;
}

/** What a client may be told of `error`, which made its request fail: a backend's failure
 * without its detail, and nothing at all of an unexpected error. */
export function clientReason(error: unknown): string {
  return error instanceof BackendUnavailableError ? error.reason : "internal error";
}
