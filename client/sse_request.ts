/**
 * @module
 * One request for a Boreas SSE stream: `GET /events` with the token in `Authorization`, the
 * channels in the query and the positions to resume after in `Last-Event-ID`, given up after
 * the reply timeout; and what its answer means. Knows nothing of what the stream carries.
 */

import { apiError } from "./api.ts";
import { type CloseInfo, NO_REPLY_CLOSE } from "./connection.ts";
import { isTemporaryRefusal, type SubscriberSettings } from "./policy.ts";
import { encodePositions } from "./sse.ts";
import type { StreamPosition } from "./subscriber_types.ts";

/** An open stream, and the positions it asked to resume after. */
export interface Stream {
  readonly body: ReadableStream<Uint8Array>;
  readonly since: Readonly<Record<string, StreamPosition>> | undefined;
  /** Aborts the request, or ends the stream once open. */
  readonly abort: AbortController;
}

/** Why a stream did not open: the token, the channels or a busy server refused it (with the
 * server's message), or the answer never came, or was no event stream. */
export type Refusal =
  | {
    readonly kind: "token" | "channels" | "busy";
    readonly message: string;
    readonly cause: Error;
  }
  | { readonly kind: "lost"; readonly close: CloseInfo };

/** How a request went; `reachedServer` when an answer came at all. */
export type Opening =
  & ({ readonly ok: true; readonly stream: Stream } | {
    readonly ok: false;
    readonly refusal: Refusal;
  })
  & { readonly reachedServer: boolean };

/** What `requestStream()` asks for. */
export interface StreamRequest {
  readonly settings: SubscriberSettings;
  /** At least one. */
  readonly channels: readonly string[];
  readonly since: Readonly<Record<string, StreamPosition>> | undefined;
  /** Aborts the request, and ends the stream once open; the caller's to abort. */
  readonly abort: AbortController;
}

/** Requests a stream; never rejects. A refusal's body is consumed; a stream's is the
 * caller's to read or cancel. */
export async function requestStream(request: StreamRequest): Promise<Opening> {
  const { settings, channels, since, abort } = request;
  const url = new URL(settings.eventsUrl);
  for (const channel of channels) url.searchParams.append("channel", channel);
  const headers = new Headers({
    accept: "text/event-stream",
    authorization: `Bearer ${settings.token}`,
  });
  if (since !== undefined) headers.set("last-event-id", encodePositions(since));
  let response: Response;
  try {
    response = await fetchOnTime(url, { headers, signal: abort.signal }, settings, abort);
  } catch (error) {
    const close = abort.signal.reason === NO_REPLY_CLOSE ? NO_REPLY_CLOSE : {
      code: 1006,
      reason: `cannot open the stream: ${error instanceof Error ? error.message : error}`,
    };
    return { ok: false, reachedServer: false, refusal: { kind: "lost", close } };
  }
  const isStream = /^text\/event-stream\b/i.test(response.headers.get("content-type") ?? "");
  if (response.status === 200 && isStream && response.body !== null) {
    return { ok: true, reachedServer: true, stream: { body: response.body, since, abort } };
  }
  return { ok: false, reachedServer: true, refusal: await refusalOf(response) };
}

/** `fetch`, aborted with `NO_REPLY_CLOSE` as the reason when no answer comes in
 * `replyTimeoutMs`. */
async function fetchOnTime(
  url: URL,
  init: RequestInit,
  { fetch, replyTimeoutMs }: SubscriberSettings,
  abort: AbortController,
): Promise<Response> {
  if (fetch === undefined) throw new TypeError("fetch: none was resolved for SSE");
  const timer = Number.isFinite(replyTimeoutMs)
    ? setTimeout(() => abort.abort(NO_REPLY_CLOSE), replyTimeoutMs)
    : undefined;
  try {
    return await fetch(url, init);
  } finally {
    clearTimeout(timer);
  }
}

/** What an answer other than a stream means. */
async function refusalOf(response: Response): Promise<Refusal> {
  const { status } = response;
  if (status === 200) {
    await response.body?.cancel().catch(() => {});
    const type = response.headers.get("content-type") ?? "none";
    return { kind: "lost", close: { code: 1006, reason: `not an event stream: ${type}` } };
  }
  const cause = await apiError(response, "GET /events");
  const message = cause.errors.join("; ");
  if (status === 401) return { kind: "token", message, cause };
  if (status === 400 || status === 403) return { kind: "channels", message, cause };
  if (isTemporaryRefusal(message)) return { kind: "busy", message, cause };
  return { kind: "lost", close: { code: 1006, reason: cause.message } };
}
