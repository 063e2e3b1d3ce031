/**
 * @module
 * A first-in first-out queue that async consumers pull from, for the subscriber's messages.
 * It ends once, optionally with an error, after which queued items are still handed out.
 */

/** An unbounded queue of items for `next()` calls, each item going to one caller. */
export class MessageQueue<T> {
  #items: T[] = [];
  #head = 0;
  readonly #waiters: Array<{
    resolve: (result: IteratorResult<T, undefined>) => void;
    reject: (error: unknown) => void;
  }> = [];
  #end: { error: unknown } | undefined;

  /** How many items wait for a `next()` call. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Hands `item` to the oldest waiting `next()`, or keeps it. Ignored once ended. */
  push(item: T): void {
    if (this.#end !== undefined) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ done: false, value: item });
    else this.#items.push(item);
  }

  /** Ends the queue: once the queued items are taken, `next()` reports done, or rejects with
   * `error` when one is given. Later calls are ignored. */
  end(error?: unknown): void {
    if (this.#end !== undefined) return;
    this.#end = { error };
    for (const waiter of this.#waiters.splice(0)) {
      if (error === undefined) waiter.resolve({ done: true, value: undefined });
      else waiter.reject(error);
    }
  }

  /** The oldest queued item, waiting for one when none is queued. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      // Let the item be collected once taken, before the next compaction.
      this.#items[this.#head++] = undefined as T;
      // Drop taken items now and then, so a long-lived queue does not keep them all.
      if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#end !== undefined) {
      const { error } = this.#end;
      return error === undefined
        ? Promise.resolve({ done: true, value: undefined })
        : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }
}
