/**
 * @module
 * One timer for every Redis command in flight on a connection, failing those that took longer
 * than the timeout. A timer armed and cleared per command was a measurable share of a cluster
 * publish's CPU, and the client's own timeout ends once a command is written: a Redis that
 * stopped answering (paused, or cut off without a reset) would keep the caller waiting.
 */

/** A command that got no answer within the timeout. */
export class CommandTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "CommandTimeout";
  }
}

/** A command in flight: when it was sent, and how to fail it. */
interface Pending {
  readonly sentAt: number;
  readonly timeOut: (error: CommandTimeout) => void;
}

/** Times out the commands it guards, with one timer armed only while some are in flight. */
export class CommandWatchdog implements Disposable {
  readonly #timeoutMs: number;
  /** In the order sent. */
  readonly #inFlight = new Set<Pending>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isDisposed = false;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Resolves as `work` does, or rejects with a `CommandTimeout` once it took the timeout. */
  async guard<T>(work: Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const pending: Pending = { sentAt: performance.now(), timeOut: reject };
    this.#inFlight.add(pending);
    this.#arm();
    work.then(resolve, reject);
    try {
      return await promise;
    } finally {
      this.#inFlight.delete(pending);
    }
  }

  /** Arms the timer for the oldest command in flight, unless it is armed. */
  #arm(): void {
    if (this.#timer !== undefined || this.#isDisposed) return;
    const oldest = this.#inFlight.values().next();
    if (oldest.done) return;
    const dueInMs = oldest.value.sentAt + this.#timeoutMs - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timeOutLate();
      this.#arm();
    }, Math.max(0, dueInMs));
  }

  /** Fails the commands in flight for the timeout or longer. */
  #timeOutLate(): void {
    const now = performance.now();
    // In the order sent: the first one still within its time ends the scan.
    for (const pending of this.#inFlight) {
      if (now - pending.sentAt < this.#timeoutMs) return;
      this.#inFlight.delete(pending);
      pending.timeOut(new CommandTimeout(this.#timeoutMs));
    }
  }

  /** Stops the timer; commands still in flight are no longer timed out. */
  [Symbol.dispose](): void {
    this.#isDisposed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
