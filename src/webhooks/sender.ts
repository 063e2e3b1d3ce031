/**
 * @module
 * Delivers webhook events to one URL: batches of at most 100 events, each waiting at most
 * 200 ms, signed, sent one at a time in order. A batch that gets no 2xx within 5 s is sent again
 * with exponential back-off for up to 5 minutes (at least once: receivers deduplicate by id).
 * The queue is bounded: past it the oldest events are dropped, counted and logged, so a slow or
 * dead backend never holds memory or slows anything else.
 */

import { withoutCredentials } from "../address.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { failureOf, postJson, signedHeaders } from "../hooks/signed_post.ts";
import type { WebhookEvent } from "./events.ts";

/** A queued event: its `id` tells it apart while it waits. */
export interface QueuedEvent {
  readonly id: string;
}

/** The request of one attempt at a batch: its body and the headers signing it. */
export interface BatchRequest {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** How batches are sent: Boreas's own format, `{"events": [...]}` signed with `secret`, or
 * another's (`request`, made anew for each attempt). */
export type BatchFormat<E extends QueuedEvent> =
  | { readonly secret: string; readonly request?: undefined }
  | { readonly request: (batch: readonly E[]) => BatchRequest; readonly secret?: undefined };

/** Delivery limits; the defaults are the documented ones. */
export type SenderOptions<E extends QueuedEvent = WebhookEvent> = BatchFormat<E> & SenderLimits;

/** Where a sender delivers and its limits. */
export interface SenderLimits {
  readonly url: string;
  /** Events waiting at most; past it the oldest are dropped. */
  readonly queueSize: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly maxBatch?: number;
  readonly maxWaitMs?: number;
  readonly timeoutMs?: number;
  /** How long a batch is retried before it is given up, in milliseconds. */
  readonly giveUpMs?: number;
  /** The first retry's delay; each next one doubles, up to a minute. */
  readonly firstRetryMs?: number;
}

/** One URL's queue and delivery loop. */
export class WebhookSender<E extends QueuedEvent = WebhookEvent> implements AsyncDisposable {
  readonly #options: Required<SenderLimits>;
  readonly #request: (batch: readonly E[]) => BatchRequest;
  /** The URL as logs show it: credentials in it are sent (as Basic auth), never logged. */
  readonly #shownUrl: string;
  #queue: E[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> | undefined;
  #inFlight: AbortController | undefined;
  #isClosed = false;
  #isDropping = false;
  /** Once closing: when the last tries must end (ms). */
  #drainUntil = Infinity;

  constructor({ secret, request, ...options }: SenderOptions<E>) {
    this.#options = {
      maxBatch: 100,
      maxWaitMs: 200,
      timeoutMs: 5_000,
      giveUpMs: 5 * 60_000,
      firstRetryMs: 1_000,
      ...options,
    };
    this.#request = request ?? ((batch) => {
      const body = JSON.stringify({ events: batch });
      return { body, headers: signedHeaders(secret!, body) };
    });
    this.#shownUrl = withoutCredentials(options.url);
  }

  /** Queues `event`; a full batch goes out at once, a partial one within 200 ms. */
  push(event: E): void {
    if (this.#isClosed) return;
    this.#queue.push(event);
    if (this.#queue.length > this.#options.queueSize) this.#drop(1);
    else this.#isDropping = false;
    if (this.#queue.length >= this.#options.maxBatch) this.#kick();
    else this.#timer ??= setTimeout(() => this.#kick(), this.#options.maxWaitMs);
  }

  /** How many events wait. */
  get queued(): number {
    return this.#queue.length;
  }

  #drop(count: number): void {
    this.#queue.splice(0, count);
    this.#options.metrics.webhookEventsDropped += count;
    if (!this.#isDropping) {
      this.#isDropping = true;
      this.#options.logger.warn("webhook queue full; dropping the oldest events", {
        url: this.#shownUrl,
        queueSize: this.#options.queueSize,
      });
    }
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#sending !== undefined || this.#queue.length === 0) return;
    if (Date.now() >= this.#drainUntil) return;
    this.#sending = this.#sendAll().finally(() => {
      this.#sending = undefined;
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #sendAll(): Promise<void> {
    while (this.#queue.length > 0 && Date.now() < this.#drainUntil) {
      const batch = this.#queue.slice(0, this.#options.maxBatch);
      const isDelivered = await this.#deliver(batch);
      // The queue may have dropped some of this batch meanwhile (and counted them): remove, and
      // count if given up, only what is still there.
      const sent = new Set(batch.map((event) => event.id));
      const before = this.#queue.length;
      this.#queue = this.#queue.filter((event) => !sent.has(event.id));
      if (!isDelivered) {
        const lost = before - this.#queue.length;
        this.#options.metrics.webhookEventsDropped += lost;
        this.#options.logger.warn("webhook batch given up after retries", {
          url: this.#shownUrl,
          events: lost,
        });
      }
    }
  }

  /** Sends `batch` until a 2xx, retrying with back-off; false once it is given up. */
  async #deliver(batch: readonly E[]): Promise<boolean> {
    const { giveUpMs, firstRetryMs, logger } = this.#options;
    const started = Date.now();
    for (let attempt = 0;; attempt++) {
      const problem = await this.#post(batch);
      if (problem === null) return true;
      logger.debug("webhook batch not delivered", { url: this.#shownUrl, attempt, problem });
      // Closing: one try per batch, no back-off.
      if (this.#isClosed) return false;
      const delay = Math.min(firstRetryMs * 2 ** attempt, 60_000);
      if (Date.now() + delay - started > giveUpMs) return false;
      await this.#sleep(delay);
      if (this.#isClosed) return await this.#post(batch) === null;
    }
  }

  /** One POST; null on a 2xx, else what went wrong. */
  async #post(batch: readonly E[]): Promise<string | null> {
    const { url, timeoutMs } = this.#options;
    const controller = this.#inFlight = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    try {
      const { body, headers } = this.#request(batch);
      const response = await postJson(url, body, { headers, signal: controller.signal });
      await response.body?.cancel();
      return response.ok ? null : `answered ${response.status}`;
    } catch (error) {
      return failureOf(error, url);
    } finally {
      clearTimeout(timer);
      this.#inFlight = undefined;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #wake: () => void = () => {};

  /** Stops taking events; what is queued gets one last try per batch, all within `timeoutMs`,
   * and what is still left then is dropped, counted and logged. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#isClosed) return;
    clearTimeout(this.#timer);
    this.#isClosed = true;
    this.#drainUntil = Date.now() + this.#options.timeoutMs;
    this.#wake();
    if (this.#sending === undefined && this.#queue.length > 0) this.#kick();
    const last = setTimeout(() => this.#inFlight?.abort(), this.#options.timeoutMs);
    await this.#sending;
    clearTimeout(last);
    if (this.#queue.length > 0) {
      this.#options.metrics.webhookEventsDropped += this.#queue.length;
      this.#options.logger.warn("webhook events dropped at shutdown", {
        url: this.#shownUrl,
        events: this.#queue.length,
      });
      this.#queue = [];
    }
  }
}
