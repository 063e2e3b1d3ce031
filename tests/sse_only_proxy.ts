/**
 * @module
 * A loopback HTTP proxy in front of a test server's WebSocket listener that lets Server-Sent
 * Events through and no WebSocket, as a proxy that breaks WebSockets would: every upgrade is
 * refused (400), left unanswered, or accepted and then ignored; everything else is forwarded,
 * streamed bodies included.
 */

/** What the proxy does with a WebSocket upgrade:
 *
 * - `refuse`: answers 400;
 * - `hang`: never answers it (until the proxy shuts down);
 * - `ignore`: completes the handshake, then drops every message, and answers only a close. */
export type UpgradeHandling = "refuse" | "hang" | "ignore";

/** A proxy listening on a free loopback port. Dispose it to shut it down. */
export interface SseOnlyProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/`, for a subscriber's `url`. */
  readonly wsUrl: string;
  /** The WebSocket upgrades asked for so far. */
  readonly upgrades: number;
  /** The `GET /events` forwarded so far. */
  readonly forwardedStreams: number;
}

/** Starts a proxy to the WebSocket listener at `target` (a `ws:` URL) that handles upgrades
 * as `upgrades` says (default `refuse`). */
export function startSseOnlyProxy(
  target: string,
  { upgrades: handling = "refuse" }: { upgrades?: UpgradeHandling } = {},
): SseOnlyProxy {
  const upstream = new URL(target.replace(/^ws/, "http"));
  const stopping = new AbortController();
  const sockets = new Set<WebSocket>();
  let upgrades = 0;
  let forwardedStreams = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      upgrades++;
      return upgrade(request, handling, { stopping: stopping.signal, sockets });
    }
    const { pathname, search } = new URL(request.url);
    if (pathname.endsWith("/events")) forwardedStreams++;
    const headers = new Headers(request.headers);
    headers.delete("host");
    // A client that goes away cancels the body, which closes the upstream request.
    return fetch(new URL(`${pathname}${search}`, upstream), { headers });
  });
  return {
    wsUrl: `ws://127.0.0.1:${server.addr.port}/`,
    get upgrades() {
      return upgrades;
    },
    get forwardedStreams() {
      return forwardedStreams;
    },
    async [Symbol.asyncDispose]() {
      stopping.abort();
      const closes = [...sockets].map((socket) =>
        new Promise((resolve) => {
          socket.addEventListener("close", resolve, { once: true });
          socket.close(1001, "proxy shutting down");
        })
      );
      await Promise.all(closes);
      await server.shutdown();
    },
  };
}

async function upgrade(
  request: Request,
  handling: UpgradeHandling,
  { stopping, sockets }: { stopping: AbortSignal; sockets: Set<WebSocket> },
): Promise<Response> {
  if (handling === "refuse") return new Response("no WebSockets through here", { status: 400 });
  if (handling === "ignore") {
    const { socket, response } = Deno.upgradeWebSocket(request);
    sockets.add(socket);
    socket.addEventListener("close", () => sockets.delete(socket), { once: true });
    return response;
  }
  // Answered only as the proxy shuts down, long after the client gave up.
  if (!stopping.aborted) {
    await new Promise((resolve) => stopping.addEventListener("abort", resolve, { once: true }));
  }
  return new Response("too late", { status: 504 });
}
