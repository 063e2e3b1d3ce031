/**
 * @module
 * The publish hook (`--publish-hook-url`): before a client's publication is delivered, the
 * backend is asked, in a signed POST, whether to deliver it as sent, deliver another payload,
 * or reject it. Whatever goes wrong on the way (a timeout, a 5xx, no connection, an answer that
 * cannot be read) rejects the publication: nothing is delivered unchecked. Knows nothing of
 * sessions or channels' subscribers.
 */

import { withoutCredentials } from "../address.ts";
import type { Config } from "../config_options.ts";
import type { Logger } from "../log.ts";
import { failureOf, postSigned } from "./signed_post.ts";

/** A client's publication, as the backend is asked about it. */
export interface Publication {
  readonly channel: string;
  /** The payload as JSON text. */
  readonly text: string;
  /** The user the publisher's token names, or null. */
  readonly user: string | null;
  /** The publisher's token's fingerprint (as in webhook events), never the token. */
  readonly tokenFingerprint: string;
}

/** What the backend decided: deliver `text` (the payload as sent, or its replacement, as JSON
 * text), or refuse with `error` (`rejected: <reason>` or `backend unavailable`). */
export type HookVerdict = { readonly text: string } | { readonly error: string };

/** Asks the backend about publications. */
export interface PublishHook {
  /** Resolves to the verdict on `publication`; never rejects. */
  check(publication: Publication): Promise<HookVerdict>;
}

/** The error of every publication the backend could not be asked about. */
export const UNAVAILABLE = "backend unavailable";

/** Where the hook calls, and how. */
export interface PublishHookOptions {
  readonly url: string;
  /** Signs each request as webhook batches are signed. */
  readonly secret: string;
  /** This node's id, sent as `node`. */
  readonly node: string;
  /** How long an answer may take, body included, in milliseconds. */
  readonly timeoutMs: number;
  /** The longest answer read, in bytes; a longer one cannot be read. */
  readonly maxAnswerBytes: number;
  readonly logger: Logger;
}

/** The publish hook over HTTP. Disposing it ends the calls in flight (their publications are
 * refused as `backend unavailable`) and every later one at once. */
export class HttpPublishHook implements PublishHook, AsyncDisposable {
  readonly #options: PublishHookOptions;
  /** The URL as logs show it: credentials in it are sent (as Basic auth), never logged. */
  readonly #shownUrl: string;
  readonly #inFlight = new Set<AbortController>();
  #isClosed = false;
  // Failures are logged at warn when they start and at debug while they go on, so a dead
  // backend under a busy chat does not flood the log.
  #isFailing = false;

  constructor(options: PublishHookOptions) {
    this.#options = options;
    this.#shownUrl = withoutCredentials(options.url);
  }

  /** POSTs `{"channel", "payload", "user", "token_fingerprint", "node"}` and reads the answer. */
  async check(publication: Publication): Promise<HookVerdict> {
    if (this.#isClosed) return { error: UNAVAILABLE };
    const { url, secret, timeoutMs, maxAnswerBytes } = this.#options;
    const controller = new AbortController();
    this.#inFlight.add(controller);
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    let answer: Answer;
    try {
      const response = await postSigned(url, this.#bodyOf(publication), {
        secret,
        signal: controller.signal,
      });
      const body = await readBounded(response, maxAnswerBytes);
      answer = body === null
        ? { problem: `answer longer than ${maxAnswerBytes} bytes` }
        : readAnswer(response.status, body, publication.text);
    } catch (error) {
      answer = { problem: this.#isClosed ? "shutting down" : failureOf(error, url) };
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
    return this.#verdictOf(answer, publication.channel);
  }

  #bodyOf({ channel, text, user, tokenFingerprint }: Publication): string {
    // The payload is already JSON: spliced in rather than parsed and written again.
    return `{"channel":${JSON.stringify(channel)},"payload":${text},"user":${
      JSON.stringify(user)
    },"token_fingerprint":${JSON.stringify(tokenFingerprint)},"node":${
      JSON.stringify(this.#options.node)
    }}`;
  }

  #verdictOf(answer: Answer, channel: string): HookVerdict {
    const { logger } = this.#options;
    if ("problem" in answer) {
      const fields = { url: this.#shownUrl, problem: answer.problem };
      if (this.#isFailing) logger.debug("publish hook unavailable", fields);
      else logger.warn("publish hook unavailable; refusing client publications", fields);
      this.#isFailing = true;
      return { error: UNAVAILABLE };
    }
    if (this.#isFailing) logger.info("publish hook answering again", { url: this.#shownUrl });
    this.#isFailing = false;
    if ("reason" in answer) {
      logger.debug("publication rejected by the publish hook", { channel, reason: answer.reason });
      return { error: `rejected: ${answer.reason}` };
    }
    return answer;
  }

  /** Refuses every later publication and ends the calls in flight. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#isClosed = true;
    for (const controller of this.#inFlight) controller.abort(new Error("shutting down"));
    return Promise.resolve();
  }
}

/** How the backend answered: deliver `text`, reject for `reason`, or a `problem` that makes
 * it unavailable. */
type Answer = { text: string } | { reason: string } | { problem: string };

/** Reads an answer of `status` with `body`, the way the docs promise: 2xx with a JSON object,
 * `{}` to deliver as sent, `{"payload": X}` (X not null) to deliver X, `{"error": "reason"}` to
 * reject; any 4xx rejects, with its JSON `error` or its status as the reason; anything else
 * (5xx, 1xx, 3xx, a body that is no such object) is a problem. `sent` is the payload as sent,
 * as JSON text. */
function readAnswer(status: number, body: string, sent: string): Answer {
  const object = parseObject(body);
  if (status >= 400 && status < 500) {
    const error = object?.error;
    return { reason: typeof error === "string" ? error : `status ${status}` };
  }
  if (status < 200 || status > 299) return { problem: `answered ${status}` };
  if (object === null) return { problem: `answered ${status} without a JSON object` };
  if (object.error !== undefined) {
    return typeof object.error === "string"
      ? { reason: object.error }
      : { problem: "error: expected a string" };
  }
  if (object.payload === undefined) return { text: sent };
  if (object.payload === null) return { problem: "payload: expected any JSON value but null" };
  return { text: JSON.stringify(object.payload) };
}

function parseObject(body: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}

/** The body of `response` as text, or null (and the rest cancelled) past `maxBytes`. */
async function readBounded(response: Response, maxBytes: number): Promise<string | null> {
  if (response.body === null) return "";
  // The common case, and much cheaper than reading the stream chunk by chunk.
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isSafeInteger(declared) && declared <= maxBytes) return await response.text();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of response.body) {
    length += chunk.byteLength;
    // Breaking out of the loop cancels the rest of the body.
    if (length > maxBytes) return null;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** The publish hook `config` asks for, or null without `--publish-hook-url`. */
export function createPublishHook(
  config: Pick<
    Config,
    "publishHookUrl" | "webhookSecret" | "publishHookTimeout" | "maxBodyBytes"
  >,
  { node, logger }: { node: string; logger: Logger },
): HttpPublishHook | null {
  const { publishHookUrl: url, webhookSecret: secret } = config;
  if (url === null) return null;
  // loadConfig refuses a hook URL without a secret; a config built by hand must not slip by.
  if (secret === null) throw new TypeError("--publish-hook-url needs --webhook-secret");
  return new HttpPublishHook({
    url,
    secret,
    node,
    timeoutMs: config.publishHookTimeout * 1000,
    // The most the backend may broadcast through the API.
    maxAnswerBytes: config.maxBodyBytes,
    logger,
  });
}
