/**
 * @module
 * Waiting without polling: a value whose changes can be awaited, an abortable sleep whose
 * timer is cleared when aborted, and a promise's rejection as a value; and calling a user's
 * listener without letting its exception stop the caller.
 */

/** Options of `StateWatch.until()`. */
export interface UntilOptions<S> {
  /** Abandons the wait, which then rejects with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
  /** A state after which no other comes: waiting for another then rejects with `failure()`. */
  readonly final: S;
  /** The error a wait for another state rejects with once `final` is reached. */
  readonly failure: () => Error;
}

/** A state that can be read, set, and awaited. */
export class StateWatch<S extends string> {
  #value: S;
  readonly #listeners = new Set<() => void>();
  readonly #onChange: ((state: S) => void) | undefined;

  /** `onChange` is called after every change; an exception it throws is reported
   * asynchronously, without stopping the change. */
  constructor(initial: S, onChange?: (state: S) => void) {
    this.#value = initial;
    this.#onChange = onChange;
  }

  /** The current state. */
  get value(): S {
    return this.#value;
  }

  /** Changes the state and wakes the waits; setting the current state does nothing. */
  set(state: S): void {
    if (state === this.#value) return;
    this.#value = state;
    for (const listener of [...this.#listeners]) listener();
    callListener(this.#onChange, state);
  }

  /** Resolves at the next change. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      const listener = () => {
        this.#listeners.delete(listener);
        resolve();
      };
      this.#listeners.add(listener);
    });
  }

  /** Resolves when the state is, or becomes, `state`; rejects once `final` is reached
   * instead, or when `signal` aborts. */
  until(state: S, options: UntilOptions<S>): Promise<void> {
    const { signal, final, failure } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const stop = () => {
        this.#listeners.delete(check);
        signal?.removeEventListener("abort", onAbort);
      };
      const check = () => {
        if (this.#value === state) {
          stop();
          resolve();
        } else if (this.#value === final) {
          stop();
          reject(failure());
        }
      };
      const onAbort = () => {
        stop();
        reject(signal?.reason);
      };
      this.#listeners.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
      check();
    });
  }
}

/** Calls `listener` (when there is one) with `value`; like an event listener's, an exception
 * it throws is reported asynchronously, and the caller's work goes on. */
export function callListener<V>(listener: ((value: V) => void) | undefined, value: V): void {
  try {
    listener?.(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts (clearing the timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The error `promise` rejects with, or undefined when it fulfils. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error ?? new Error("rejected without a reason");
  }
}
