/**
 * @module
 * A connection's client messages, applied one after the other and bounded: a message may wait
 * for a round trip (the publish hook, a token check, Redis), and a client that sends faster
 * than its messages are applied must not grow the server's memory with what waits. Shared by
 * the native and Pusher transports; knows nothing of what a message does.
 */

/** Runs tasks one after the other, with at most `maxWaiting` added and not yet done. */
export class MessageQueue {
  readonly #maxWaiting: number;
  readonly #onError: (error: unknown) => void;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  // Made once: two promises a message, not three.
  readonly #done = (): void => {
    this.#waiting--;
  };
  readonly #failed = (error: unknown): void => {
    this.#waiting--;
    this.#onError(error);
  };

  /** `onError` gets what a task threw; the next task runs anyway. */
  constructor(maxWaiting: number, onError: (error: unknown) => void) {
    this.#maxWaiting = maxWaiting;
    this.#onError = onError;
  }

  /** Runs `task` once every task added before it is done; false, and `task` is dropped, when
   * `maxWaiting` tasks are still waiting or running. */
  add(task: () => Promise<void> | void): boolean {
    if (this.#waiting >= this.#maxWaiting) return false;
    this.#waiting++;
    this.#tail = this.#tail.then(task).then(this.#done, this.#failed);
    return true;
  }

  /** Runs `task` once every task added before it is done, however many wait: for the one
   * task that ends the connection. */
  last(task: () => void): void {
    this.#tail = this.#tail.then(task).catch(this.#onError);
  }
}
