/**
 * @module
 * What every API resource is handed: the shared state it reads and changes, and the options it
 * obeys. Types only.
 */

import type { Backend } from "../backend/backend.ts";
import type { Hub } from "../hub.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

/** The state and options the API's route lists are built from. */
export interface ApiContext {
  /** This node's own connections. */
  readonly hub: Hub;
  /** The tokens, fan-out and counts every node shares (just this one, standalone). */
  readonly cluster: Backend;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes: number;
  /** How long a request body may take to arrive, in seconds (`--body-timeout`). */
  readonly bodyTimeout: number;
  /** Whether the `/debug/` routes exist. */
  readonly debug: boolean;
  /** Whether `/dashboard` and its assets exist. */
  readonly dashboard: boolean;
  /** Keys for `Authorization: Bearer KEY`; empty when the API is open. */
  readonly apiKeys: readonly string[];
  /** Without API keys: host names (`--allowed-hosts`, `*` for any) a request's `Host` may name
   * besides the loopback ones. With keys, any `Host` is answered. */
  readonly allowedHosts: readonly string[];
  /** Origins whose browser requests get CORS headers (`--cors-origin`); may hold `*`. */
  readonly corsOrigins: readonly string[];
  /** Whether a graceful shutdown has started (`/health` then answers 503). */
  isShuttingDown(): boolean;
}
