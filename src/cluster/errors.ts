/**
 * @module
 * The error the cluster's shared state throws when Redis cannot do what was asked, and what
 * may be told of it to whom: the detail (an address, a Redis error) is for the log and for
 * holders of the API key, never for clients.
 */

/** What clients, and `/health` asked without the API key, are told of any Redis failure. */
export const UNAVAILABLE_REASON = "redis: unavailable";

/** Redis could not be reached or did not answer; the message starts with `redis: ` and never
 * holds the password. The API answers it 503. */
export class ClusterUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message.startsWith("redis: ") ? message : `redis: ${message}`, options);
    this.name = "ClusterUnavailableError";
  }
}

/** What a client may be told of `error`, which made its request fail: a Redis failure without
 * its detail, and nothing at all of an unexpected error. */
export function clientReason(error: unknown): string {
  return error instanceof ClusterUnavailableError ? UNAVAILABLE_REASON : "internal error";
}
