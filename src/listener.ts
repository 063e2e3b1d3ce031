/**
 * @module
 * A `Deno.serve` listener that outlives its accept loop. Deno ends a server's accept loop at the
 * first accept error and rejects its `finished`: out of file descriptors (`EMFILE`, "Too many
 * open files"), which a flood of connections brings about, the listener is gone for good while
 * the connections it accepted go on, and the unhandled rejection ends the process. Here the
 * listener is bound again on the same address after a short pause (longer while it keeps
 * stopping or binding fails), so the server keeps serving the connections it has and takes new
 * ones once descriptors are free again. (The process must already listen for the signals it
 * handles: Deno 2.9 panics when it first registers one while out of descriptors; `main.ts` does
 * at startup.)
 */

import type { Logger } from "./log.ts";
import { errorMessage } from "./text.ts";

/** The pause before binding again: the first of a series, and the longest. Each stop within
 * `QUIET_MS` of the one before doubles it, so a flood that goes on is not met with a busy loop. */
const PAUSE_FIRST_MS = 50;
const PAUSE_MAX_MS = 1_000;
/** A stop this long after the one before starts a new series (and is logged again). */
const QUIET_MS = 10_000;

/** What a listener serves, where, and whom it tells of a restart. */
export interface ListenerOptions {
  /** Which listener this is, for the logs: `api` or `ws`. */
  readonly name: string;
  /** The address to bind; port 0 picks a free one, kept when the listener is bound again. */
  readonly hostname: string;
  readonly port: number;
  /** What answers each request. */
  readonly handler: Deno.ServeHandler<Deno.NetAddr>;
  /** The answer to a request whose handler threw. */
  readonly onError: (error: unknown) => Response;
  /** Whether to bind with `SO_REUSEPORT` (needs `--unstable-net`). */
  readonly reusePort: boolean;
  readonly logger: Logger;
  /** Called each time the accept loop stops unasked, before the listener is bound again. */
  readonly onRestart?: () => void;
}

/** A bound listener. `shutdown()` (or disposing it) stops it for good. */
export class Listener implements AsyncDisposable {
  /** The address bound (the real port when 0 was asked for); kept across restarts. */
  readonly addr: Deno.NetAddr;
  readonly #options: ListenerOptions;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #isClosing = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #lastStopAt = -Infinity;
  #pauseMs = PAUSE_FIRST_MS;

  /** Binds `options.hostname:options.port`; throws what `Deno.serve` throws when it cannot. */
  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#server = this.#serve(options.port);
    this.addr = this.#server.addr;
  }

  /** Stops accepting, lets the requests in flight finish, and binds nothing again. */
  async shutdown(): Promise<void> {
    this.#isClosing = true;
    clearTimeout(this.#retryTimer);
    await this.#server?.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #serve(port: number): Deno.HttpServer<Deno.NetAddr> {
    const { hostname, handler, onError, reusePort } = this.#options;
    const options = { hostname, port, handler, onError, onListen: () => {} };
    const server = Deno.serve(reusePort ? { ...options, reusePort } : options);
    server.finished.then(
      () => this.#onStopped(server, new Error("the accept loop ended")),
      (error) => this.#onStopped(server, error),
    );
    return server;
  }

  #onStopped(server: Deno.HttpServer<Deno.NetAddr>, error: unknown): void {
    if (this.#isClosing || server !== this.#server) return;
    this.#server = undefined;
    const { name, logger, onRestart } = this.#options;
    onRestart?.();
    const now = Date.now();
    const isNewSeries = now - this.#lastStopAt > QUIET_MS;
    this.#lastStopAt = now;
    this.#pauseMs = isNewSeries ? PAUSE_FIRST_MS : Math.min(this.#pauseMs * 2, PAUSE_MAX_MS);
    if (isNewSeries) {
      logger.error("listener stopped accepting; binding it again", {
        listener: name,
        error: errorMessage(error),
        hint: "out of file descriptors? raise `ulimit -n` or lower --max-connections",
      });
    }
    this.#bindAfterPause();
  }

  /** Binds again after the pause; while binding fails, tries again after longer ones, with a
   * warning for the first failure only. */
  #bindAfterPause(failures = 0): void {
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#isClosing) return;
      try {
        this.#server = this.#serve(this.addr.port);
      } catch (error) {
        // Binding needs a descriptor too; or another process took the port meanwhile.
        if (failures === 0) {
          this.#options.logger.warn("listener not bound yet; retrying", {
            listener: this.#options.name,
            error: errorMessage(error),
          });
        }
        this.#pauseMs = Math.min(this.#pauseMs * 2, PAUSE_MAX_MS);
        this.#bindAfterPause(failures + 1);
      }
    }, this.#pauseMs);
  }
}
