/**
 * @module
 * The Server-Sent Events wire format, as the client reads it: a parser that splits a stream's
 * text into events by the HTML standard's rules, a reader of a response body into those
 * events, and what Boreas puts in them: the event ids in which it encodes every channel's
 * position, and the data of its `close` and `recovery` events. Pure but for reading the body;
 * knows nothing of subscribers or reconnecting.
 */

import { type CloseInfo, ConnectionLostError } from "./connection.ts";
import type { StreamPosition } from "./subscriber_types.ts";

/** One event, as `EventSource` would dispatch it, or a block that only set the event id. */
export interface SseEvent {
  /** The `event:` field; `message` when there was none. */
  readonly type: string;
  /** The `data:` lines, joined with line feeds; undefined for a block with an `id:` and no
   * data, which `EventSource` does not dispatch but which still moves its `lastEventId`
   * (Boreas sends one with every channel's position as a stream starts). */
  readonly data: string | undefined;
  /** This event's own `id:` field, if it had one (unlike `EventSource.lastEventId`, not
   * carried over from earlier events). */
  readonly id: string | undefined;
}

const LINE_END = /\r\n|\r|\n/g;

/** Splits an event stream's text, fed in chunks, into events: lines end with CRLF, LF or CR
 * (also across chunks), a line starting with `:` is a comment, one space after a field's
 * colon is dropped, and a blank line ends an event, which is dispatched when it has data or
 * an id. */
export class SseParser {
  #rest = "";
  #isAfterCr = false;
  #type = "";
  #data: string[] = [];
  #id: string | undefined;

  /** The events that `chunk` completes, in order. */
  push(chunk: string): SseEvent[] {
    let text = this.#rest + chunk;
    // A CR that ended the last chunk may be the first half of a CRLF.
    if (this.#isAfterCr && text.startsWith("\n")) text = text.slice(1);
    this.#isAfterCr = false;
    const events: SseEvent[] = [];
    let start = 0;
    LINE_END.lastIndex = 0;
    for (let match = LINE_END.exec(text); match !== null; match = LINE_END.exec(text)) {
      this.#line(text.slice(start, match.index), events);
      start = LINE_END.lastIndex;
      if (match[0] === "\r" && start === text.length) this.#isAfterCr = true;
    }
    this.#rest = text.slice(start);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === "") return this.#dispatch(events);
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#type = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value === "" ? undefined : value;
  }

  #dispatch(events: SseEvent[]): void {
    const data = this.#data.length > 0 ? this.#data.join("\n") : undefined;
    if (data !== undefined || this.#id !== undefined) {
      events.push({ type: this.#type || "message", data, id: this.#id });
    }
    [this.#type, this.#data, this.#id] = ["", [], undefined];
  }
}

/** Options of `readEvents()`. */
export interface ReadOptions {
  /** Ends the reading; the body is cancelled then. */
  readonly signal: AbortSignal;
  /** How long to wait for the next chunk of the body (any bytes, comments included) before
   * taking the stream for dead, in milliseconds; `Infinity` waits forever. */
  readonly idleTimeoutMs: number;
}

/** The events of `body`, an event stream, until it ends or `signal` aborts; the body is
 * cancelled then, or when the caller stops early. Rejects as reading the body does (a
 * network failure), and with `ConnectionLostError` when nothing arrives in `idleTimeoutMs`. */
export async function* readEvents(
  body: ReadableStream<Uint8Array>,
  { signal, idleTimeoutMs }: ReadOptions,
): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  // Cancelling the reader ends a pending read at once, which aborting a fetch does not
  // always do.
  const cancel = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  const decoder = new TextDecoder();
  const parser = new SseParser();
  let isIdle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onIdle = () => {
    isIdle = true;
    cancel();
  };
  try {
    while (!signal.aborted) {
      if (Number.isFinite(idleTimeoutMs)) timer = setTimeout(onIdle, idleTimeoutMs);
      const { value, done } = await reader.read();
      clearTimeout(timer);
      if (isIdle) throw new ConnectionLostError(`nothing received in ${idleTimeoutMs} ms`);
      if (done) return;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", cancel);
    await reader.cancel().catch(() => {});
  }
}

/** `positions` as a Boreas event id, for `Last-Event-ID`: `channel=offset:epoch` for each,
 * comma-separated, the channel percent-encoded. */
export function encodePositions(positions: Readonly<Record<string, StreamPosition>>): string {
  return Object.entries(positions).map(([channel, { offset, epoch }]) =>
    `${encodeURIComponent(channel)}=${offset}:${epoch}`
  ).join(",");
}

/** The positions a Boreas event id holds, leaving out what does not parse. */
export function decodePositions(id: string): Map<string, StreamPosition> {
  const positions = new Map<string, StreamPosition>();
  for (const part of id.split(",")) {
    const match = /^([^=]+)=(\d+):([0-9a-zA-Z_-]+)$/.exec(part);
    if (match === null) continue;
    try {
      positions.set(decodeURIComponent(match[1]!), { offset: Number(match[2]), epoch: match[3]! });
    } catch {
      // A malformed percent-encoding: no position for it.
    }
  }
  return positions;
}

/** The code and reason of a Boreas `event: close`; 1006 when its data does not say. */
export function parseClose(data: string): CloseInfo {
  const value = parseJson(data);
  if (isRecord(value) && typeof value.code === "number" && typeof value.reason === "string") {
    return { code: value.code, reason: value.reason };
  }
  return { code: 1006, reason: "stream closed" };
}

/** The channel of a Boreas `event: recovery`, and where it stands now when the event says. */
export function parseRecovery(
  data: string,
): { channel: string; now: StreamPosition | undefined } | undefined {
  const value = parseJson(data);
  if (!isRecord(value) || typeof value.channel !== "string") return undefined;
  const { channel, offset, epoch } = value;
  const isPlaced = typeof offset === "number" && typeof epoch === "string";
  return { channel, now: isPlaced ? { offset, epoch } : undefined };
}

/** `text` parsed as JSON; undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
