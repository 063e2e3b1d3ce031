/**
 * @module
 * A `Link` over Server-Sent Events (`GET /events` on the WebSocket listener), for where
 * WebSockets do not get through: the token goes in `Authorization`, the channels in the query
 * and the positions to resume after in `Last-Event-ID`, which is why it uses `fetch` with a
 * streamed body rather than `EventSource` (which can set neither header, nor show a refusal's
 * status). The server's refusals and its final `event: close` become what a WebSocket link
 * would report; its `event: members` and its `joined` and `left` frames update who is in each
 * channel. A stream is receive-only: a join or a leave opens a stream of the new channels, then
 * drops the old one. Knows nothing of back-off.
 */

import {
  broadcastOf,
  CLIENT_CLOSE,
  type CloseInfo,
  ConnectionLostError,
  NO_REPLY_CLOSE,
  ReplyError,
} from "./connection.ts";
import { BoreasSubscriberError } from "./errors.ts";
import type { Link, LinkContext } from "./link.ts";
import { memberEventOf, membersEventOf, type MembershipEvent } from "./members.ts";
import {
  decodePositions,
  parseClose,
  parseJson,
  parseRecovery,
  readEvents,
  type SseEvent,
} from "./sse.ts";
import { type Opening, type Refusal, requestStream, type Stream } from "./sse_request.ts";

const BUSY_CLOSE: CloseInfo = Object.freeze({ code: 1000, reason: "server busy; retrying" });

/** A subscription over one SSE stream at a time. */
export class SseLink implements Link {
  readonly #context: LinkContext;
  readonly closed: Promise<CloseInfo>;
  #resolveClosed: (close: CloseInfo) => void = () => {};
  /** What aborting ends: the requests in flight and the streams open. */
  readonly #aborts = new Set<AbortController>();
  /** What `closed` waits for: requests and readers. */
  readonly #tasks = new Set<Promise<unknown>>();
  #channels: readonly string[];
  /** The stream being read; undefined with no channels, or once closed. */
  #current: Stream | undefined;
  /** Joins and leaves, one at a time. */
  #changes: Promise<unknown> = Promise.resolve();
  #end: CloseInfo | undefined;
  #error: BoreasSubscriberError | undefined;
  #wasAnswered = false;
  readonly opened: Promise<boolean>;

  /** Opens a stream of `context.channels` at once; with none, it is open without a stream. */
  constructor(context: LinkContext) {
    this.#context = context;
    this.#channels = [...new Set(context.channels)];
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
    this.opened = this.#open();
  }

  get error(): BoreasSubscriberError | undefined {
    return this.#error;
  }

  get wasAnswered(): boolean {
    return this.#wasAnswered;
  }

  join(channels: readonly string[]): Promise<void> {
    return this.#change((current) => [...new Set([...current, ...channels])]);
  }

  async leave(channels: readonly string[]): Promise<void> {
    const left = new Set(channels);
    await this.#change((current) => current.filter((channel) => !left.has(channel)));
    this.#context.positions.forget(channels);
    this.#context.members.forget(channels);
  }

  publish(): Promise<{ offset?: number }> {
    return Promise.reject(
      new ReplyError("publish: an SSE stream cannot send; publish over a WebSocket"),
    );
  }

  close(code: number, reason: string): void {
    this.#finish({ code, reason });
  }

  async #open(): Promise<boolean> {
    // Nothing to stream: the token is first checked when a join opens a stream.
    if (this.#channels.length === 0) return true;
    const opening = await this.#openStream(this.#channels);
    if (this.#end !== undefined) return this.#discard(opening);
    if (!opening.ok) {
      this.#refusedOpen(opening.refusal);
      return false;
    }
    this.#adopt(opening.stream);
    return true;
  }

  /** Sets the channels to what `update` makes of them, after the changes before it. */
  #change(update: (channels: readonly string[]) => string[]): Promise<void> {
    const change = this.#changes.then(() => this.#reopen(update(this.#channels)));
    this.#changes = change.catch(() => {});
    return change;
  }

  /** Streams `next` instead of the current channels. The old stream is read until the new
   * one is open, so nothing is missed meanwhile; with history on, the new one resumes after
   * the positions, and the repeats are dropped as such. */
  async #reopen(next: readonly string[]): Promise<void> {
    if (this.#end !== undefined) throw new ConnectionLostError("stream closed");
    if (next.length === this.#channels.length && next.every((c) => this.#channels.includes(c))) {
      return;
    }
    if (next.length === 0) {
      this.#channels = next;
      this.#drop(this.#current);
      this.#current = undefined;
      return;
    }
    const opening = await this.#openStream(next);
    if (this.#end !== undefined) {
      this.#discard(opening);
      throw new ConnectionLostError("stream closed");
    }
    if (!opening.ok) throw this.#refusedChange(opening.refusal);
    this.#channels = next;
    this.#adopt(opening.stream);
  }

  /** Requests a stream of `channels`, resuming after their positions. */
  #openStream(channels: readonly string[]): Promise<Opening> {
    const { settings, positions } = this.#context;
    const abort = new AbortController();
    this.#aborts.add(abort);
    if (this.#end !== undefined) abort.abort();
    const request = { settings, channels, since: positions.since(channels), abort };
    return this.#track(
      requestStream(request).then((opening) => {
        if (opening.reachedServer) this.#wasAnswered = true;
        if (!opening.ok) this.#aborts.delete(abort);
        return opening;
      }),
    );
  }

  #adopt(stream: Stream): void {
    const old = this.#current;
    this.#current = stream;
    this.#track(this.#read(stream));
    this.#drop(old);
  }

  /** Lets go of what a request got after the link closed; false, for `opened`. */
  #discard(opening: Opening): false {
    if (!opening.ok) return false;
    this.#drop(opening.stream);
    this.#track(opening.stream.body.cancel().catch(() => {}));
    return false;
  }

  #drop(stream: Stream | undefined): void {
    if (stream === undefined) return;
    this.#aborts.delete(stream.abort);
    stream.abort.abort();
  }

  /** Hands on the events of `stream` while it is the current one; its end ends the link, as
   * does silence for longer than `sseIdleTimeoutMs` (the server's keepalive comments stopped:
   * the connection is dead though no one said so), which closes like a WebSocket that stopped
   * answering. */
  async #read(stream: Stream): Promise<void> {
    let close: CloseInfo = { code: 1006, reason: "stream ended" };
    const { sseIdleTimeoutMs } = this.#context.settings;
    const reading = { signal: stream.abort.signal, idleTimeoutMs: sseIdleTimeoutMs };
    try {
      for await (const event of readEvents(stream.body, reading)) {
        if (this.#current !== stream) return;
        if (event.type === "close" && event.data !== undefined) {
          close = parseClose(event.data);
          break;
        }
        this.#dispatch(event, stream);
      }
    } catch (error) {
      close = error instanceof ConnectionLostError
        ? { code: NO_REPLY_CLOSE.code, reason: error.message }
        : { code: 1006, reason: `stream failed: ${messageOf(error)}` };
    }
    if (this.#current === stream) this.#finish(close);
  }

  #dispatch({ type, data, id }: SseEvent, stream: Stream): void {
    const { positions, onBroadcast, onRecovery } = this.#context;
    // The id a stream starts with: where every channel stands before its first message, in
    // the epoch it has now.
    if (data === undefined) {
      for (const [channel, position] of decodePositions(id ?? "")) {
        positions.startAt(channel, position);
      }
      return;
    }
    if (type === "recovery") {
      const reported = parseRecovery(data);
      const since = reported === undefined ? undefined : stream.since?.[reported.channel];
      if (reported === undefined || since === undefined) return;
      onRecovery(positions.notRecovered(reported.channel, since, reported.now));
      return;
    }
    if (type === "members") return this.#onMembership(membersEventOf(parseJson(data)));
    if (type !== "message") return;
    const value = parseJson(data);
    const frame = broadcastOf(value);
    if (frame === undefined) return this.#onMembership(memberEventOf(value));
    onBroadcast(frame);
    // After the frame, which a position taken from its own id would drop as a repeat.
    this.#learn(id);
  }

  /** Applies a member list, or a `joined` or `left`, and hands it on. */
  #onMembership(event: MembershipEvent | undefined): void {
    if (event === undefined) return;
    this.#context.members.apply(event);
    this.#context.onMembership(event);
  }

  /** Takes where the event id `id` says the channels stand, for those the subscriber has no
   * position for, so that a reconnect or a reopen resumes them too. */
  #learn(id: string | undefined): void {
    if (id === undefined) return;
    const { positions } = this.#context;
    for (const [channel, position] of decodePositions(id)) positions.learn(channel, position);
  }

  #refusedOpen(refusal: Refusal): void {
    if (refusal.kind === "lost") return this.#finish(refusal.close);
    if (refusal.kind === "busy") return this.#finish(BUSY_CLOSE);
    this.#fail(refusal.kind === "token" ? "auth-rejected" : "rejected", refusal);
  }

  /** What a join or leave the server refused rejects with; a refused token ends the link. */
  #refusedChange(refusal: Refusal): Error {
    if (refusal.kind === "lost") {
      this.#finish(refusal.close);
      return new ConnectionLostError(refusal.close.reason);
    }
    if (refusal.kind === "token") return this.#fail("auth-rejected", refusal);
    return new ReplyError(refusal.message);
  }

  #fail(
    kind: "auth-rejected" | "rejected",
    { message, cause }: { message: string; cause: Error },
  ): BoreasSubscriberError {
    this.#error = new BoreasSubscriberError(kind, message, { cause });
    this.#finish(CLIENT_CLOSE);
    return this.#error;
  }

  #finish(close: CloseInfo): void {
    if (this.#end !== undefined) return;
    this.#end = close;
    this.#current = undefined;
    for (const abort of this.#aborts) abort.abort();
    this.#aborts.clear();
    void this.#settle(close);
  }

  /** Resolves `closed` once every request and reader has let go of its body. */
  async #settle(close: CloseInfo): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled(this.#tasks);
    this.#resolveClosed(close);
  }

  #track<T>(task: Promise<T>): Promise<T> {
    this.#tasks.add(task);
    const forget = () => this.#tasks.delete(task);
    task.then(forget, forget);
    return task;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
