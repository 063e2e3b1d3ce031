/**
 * @module
 * Loopback servers that stop answering, for the client's timeouts: a TCP listener that takes
 * every connection and never says a word (a WebSocket handshake left hanging), and an SSE
 * endpoint that answers a stream's headers, sends a few comments, and then goes silent (a
 * stream that died without closing).
 */

/** A loopback TCP listener that accepts and never answers. Dispose it to close every
 * connection it took. */
export interface MuteListener extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/`, for a subscriber's `url`. */
  readonly wsUrl: string;
  /** The connections taken so far. */
  readonly accepted: number;
  /** Resolves once `count` connections have been taken. */
  untilAccepted(count: number): Promise<void>;
}

/** Starts a `MuteListener` on a free port. */
export function startMuteListener(): MuteListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const waits = new Set<() => void>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      for (const wake of [...waits]) wake();
    }
  })().catch(() => {});
  return {
    wsUrl: `ws://127.0.0.1:${listener.addr.port}/`,
    get accepted() {
      return conns.length;
    },
    untilAccepted(count) {
      return new Promise((resolve) => {
        const check = () => {
          if (conns.length < count) return;
          waits.delete(check);
          resolve();
        };
        waits.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of conns) conn.close();
    },
  };
}

/** A loopback SSE endpoint whose streams go silent. Dispose it to end them and shut it down. */
export interface SilentSseServer extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/`, for a subscriber's `url`. */
  readonly wsUrl: string;
  /** The `Last-Event-ID` of each `GET /events` so far, in order (null for none). */
  readonly lastEventIds: ReadonlyArray<string | null>;
  /** The comments sent so far on each stream, in the same order. */
  readonly commentsSent: ReadonlyArray<number>;
  /** Resolves once `count` streams have been asked for. */
  untilStreams(count: number): Promise<void>;
  /** Resolves once the client let go of `count` streams (cancelled their bodies). */
  untilCancelled(count: number): Promise<void>;
}

/** Starts a `SilentSseServer`: each stream gets its headers, then `comments` comment lines,
 * one every `intervalMs`, then nothing. */
export function startSilentSseServer(
  { comments = 0, intervalMs = 10 }: { comments?: number; intervalMs?: number } = {},
): SilentSseServer {
  const lastEventIds: Array<string | null> = [];
  const commentsSent: number[] = [];
  const counts = { streams: 0, cancelled: 0 };
  const waits = new Set<() => void>();
  const changed = () => {
    for (const wake of [...waits]) wake();
  };
  const until = (what: keyof typeof counts, count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (counts[what] < count) return;
        waits.delete(check);
        resolve();
      };
      waits.add(check);
      check();
    });
  const open = new Set<{ end(): void }>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const index = lastEventIds.push(request.headers.get("last-event-id")) - 1;
    commentsSent.push(0);
    counts.streams++;
    changed();
    const stream = silentStream(comments, intervalMs, {
      onComment: () => commentsSent[index]!++,
      onCancel: () => {
        open.delete(stream);
        counts.cancelled++;
        changed();
      },
    });
    open.add(stream);
    return new Response(stream.body, { headers: { "content-type": "text/event-stream" } });
  });
  return {
    wsUrl: `ws://127.0.0.1:${server.addr.port}/`,
    lastEventIds,
    commentsSent,
    untilStreams: (count) => until("streams", count),
    untilCancelled: (count) => until("cancelled", count),
    async [Symbol.asyncDispose]() {
      for (const stream of open) stream.end();
      await server.shutdown();
    },
  };
}

/** A body that sends `comments` comments, `intervalMs` apart, and then nothing. */
function silentStream(
  comments: number,
  intervalMs: number,
  { onComment, onCancel }: { onComment: () => void; onCancel: () => void },
): { body: ReadableStream<Uint8Array>; end(): void } {
  let timer: ReturnType<typeof setInterval> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      let sent = 0;
      if (comments === 0) return;
      timer = setInterval(() => {
        controller.enqueue(new TextEncoder().encode(": keepalive\n\n"));
        onComment();
        if (++sent === comments) clearInterval(timer);
      }, intervalMs);
    },
    cancel() {
      clearInterval(timer);
      onCancel();
    },
  });
  return {
    body,
    end() {
      clearInterval(timer);
      controller.close();
    },
  };
}
