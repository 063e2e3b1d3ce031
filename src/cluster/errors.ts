/**
 * @module
 * The error the cluster's shared state throws when Redis cannot do what was asked.
 */

/** Redis could not be reached or did not answer; the message starts with `redis: ` and never
 * holds the password. The API answers it 503. */
export class ClusterUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message.startsWith("redis: ") ? message : `redis: ${message}`, options);
    this.name = "ClusterUnavailableError";
  }
}
