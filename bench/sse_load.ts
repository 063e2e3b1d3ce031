/**
 * @module
 * The SSE load generator of `transports.ts`: `load.ts`'s commands and publishing loop, but its
 * subscribers are Server-Sent Events streams (`GET /events?channel=NAME` with
 * `Authorization: Bearer T`, one `fetch` each, the body read and parsed as it comes) instead of
 * WebSockets. `connect`'s `wsUrl` names the WebSocket listener, which also serves `/events`.
 *
 * Run: `deno run --allow-net=127.0.0.1 --allow-run=cat bench/sse_load.ts` (then write commands
 * to it, as to `load.ts`).
 */

import type { Command } from "./ipc.ts";
import { fanout, serveCommands } from "./load.ts";
import { SubscriberPool } from "./subscribers.ts";

const EVENT_END = "\n\n";
/** Bytes one read of a stream takes at most: a few events' worth. */
const READ_BYTES = 4_096;

/** Subscribers over SSE, counted and timed as `SubscriberPool` counts WebSocket frames: each
 * event is handed to `handleEvent` as a `MessageEvent` holding the event's text, whose `"t":`
 * is what the WebSocket frame's would be. */
export class SsePool extends SubscriberPool {
  readonly #streams: Array<{ abort: AbortController; done: Promise<void> }> = [];

  override get size(): number {
    return this.#streams.length;
  }

  /** Opens one stream to `eventsUrl` per token, at most `concurrency` at a time, the k-th in
   * `channels[k % length]`. Resolves once every answer was 200: the server joins a stream to
   * its channels before it answers. Rejects on the first other answer. */
  async openStreams(
    eventsUrl: string,
    { tokens, channels, concurrency = 64 }: {
      tokens: readonly string[];
      channels: readonly string[];
      concurrency?: number;
    },
  ): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < tokens.length) {
        const index = next++;
        const url = new URL(eventsUrl);
        url.searchParams.set("channel", channels[index % channels.length]!);
        const abort = new AbortController();
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${tokens[index]}` },
          signal: abort.signal,
        });
        if (response.status !== 200 || response.body === null) {
          throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
        }
        this.#streams.push({ abort, done: this.#read(response.body) });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  override async closeAll(): Promise<void> {
    const streams = this.#streams.splice(0);
    for (const { abort } of streams) abort.abort();
    await Promise.all(streams.map(({ done }) => done));
  }

  /** Reads `body` to its end (or abort), handing each complete event to `handleEvent`. A
   * BYOB reader into one buffer per stream: the default reader allocates 64 KiB a read, which
   * made the garbage collector a third of this process's time and saturated its core at 20,000
   * events a second. */
  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = body.getReader({ mode: "byob" });
    let buffer = new ArrayBuffer(READ_BYTES);
    let pending = "";
    try {
      while (true) {
        const { value, done } = await reader.read(new Uint8Array(buffer));
        if (done) break;
        // The read transferred the buffer: take it back for the next one.
        buffer = value.buffer as ArrayBuffer;
        pending += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = pending.indexOf(EVENT_END)) !== -1) {
          this.handleEvent(new MessageEvent("message", { data: pending.slice(0, end) }));
          pending = pending.slice(end + EVENT_END.length);
        }
      }
    } catch {
      // Aborted by `closeAll`, or the server went away: either way the stream is over.
    }
  }
}

/** `ws://HOST:PORT/` of the WebSocket listener → `http://HOST:PORT/events`. */
export function eventsUrlOf(wsUrl: string): string {
  const url = new URL("/events", wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  return url.href;
}

if (import.meta.main) {
  const pool = new SsePool();
  let tokens: string[] = [];
  await serveCommands(async (command: Command): Promise<Record<string, unknown>> => {
    switch (command.op) {
      case "tokens":
        tokens = await (await fetch(command.url)).json();
        return {};
      case "connect": {
        const mine = tokens.slice(pool.size, pool.size + command.count);
        if (mine.length < command.count) {
          throw new RangeError(`connect: ${command.count} subscribers but too few tokens`);
        }
        const channels = command.channels ?? [command.channel];
        await pool.openStreams(eventsUrlOf(command.wsUrl), { tokens: mine, channels });
        return {};
      }
      case "disconnect":
        await pool.closeAll();
        return {};
      case "fanout":
        return { ...await fanout(pool, command) };
      case "exit":
        return {};
      default:
        throw new RangeError(`${command.op}: not supported over SSE`);
    }
  });
}
