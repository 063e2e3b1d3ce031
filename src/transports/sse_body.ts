/**
 * @module
 * An SSE response's body: the chunks written to it wait in a queue of its own until Deno reads
 * them (so what a client has not read is counted, for the slow-consumer limit), and it says
 * when the response is over: read to its end after `end()`, or cancelled by the client going
 * away. Until then the stream still holds memory for its client, so it still counts as a
 * connection.
 */

/** A response body fed by `push`, read by Deno one chunk at a time. */
export class SseBody {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  // Deno asked for a chunk and none was there: the next push or end() answers its read.
  #isWaiting = false;
  #isEnding = false;
  #isOver = false;
  readonly #onOver: () => void;

  /** `onCancel` hears of the client going away; `onOver`, once, of the response being over
   * (after `onCancel` when it was cancelled). */
  constructor({ onCancel, onOver }: { onCancel: () => void; onOver: () => void }) {
    this.#onOver = onOver;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      pull: () => this.#pull(),
      cancel: () => {
        this.#isEnding = true;
        this.#queue.length = 0;
        this.#queuedBytes = 0;
        onCancel();
        this.#over();
      },
    }, { highWaterMark: 0 });
  }

  /** Bytes written and not yet taken by Deno. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Adds `chunk` after what was written before; nothing once `end()` was called. */
  push(chunk: Uint8Array): void {
    if (this.#isEnding) return;
    if (this.#isWaiting) {
      // Straight to the pending read: the stream's own queue stays empty.
      this.#isWaiting = false;
      this.#controller.enqueue(chunk);
      return;
    }
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.byteLength;
  }

  /** Ends the body once what was written has been read. */
  end(): void {
    if (this.#isEnding) return;
    this.#isEnding = true;
    if (this.#isWaiting) this.#close();
  }

  // Called for each read of Deno's (the stream holds nothing itself: highWaterMark 0).
  #pull(): void {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#queuedBytes -= chunk.byteLength;
      this.#controller.enqueue(chunk);
    } else if (this.#isEnding) {
      this.#close();
    } else {
      this.#isWaiting = true;
    }
  }

  #close(): void {
    this.#controller.close();
    this.#over();
  }

  #over(): void {
    if (this.#isOver) return;
    this.#isOver = true;
    this.#onOver();
  }
}
