/**
 * @module
 * A loopback HTTP proxy in front of a test server's WebSocket listener that lets Server-Sent
 * Events through and no WebSocket, as a proxy that breaks WebSockets would: every upgrade is
 * answered 400, everything else is forwarded, streamed bodies included.
 */

/** A proxy listening on a free loopback port. Dispose it to shut it down. */
export interface SseOnlyProxy extends AsyncDisposable {
  /** `ws://127.0.0.1:<port>/`, for a subscriber's `url`. */
  readonly wsUrl: string;
  /** The upgrades refused so far. */
  readonly refusedUpgrades: number;
  /** The `GET /events` forwarded so far. */
  readonly forwardedStreams: number;
}

/** Starts a proxy to the WebSocket listener at `target` (a `ws:` URL). */
export function startSseOnlyProxy(target: string): SseOnlyProxy {
  const upstream = new URL(target.replace(/^ws/, "http"));
  let refusedUpgrades = 0;
  let forwardedStreams = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      refusedUpgrades++;
      return new Response("no WebSockets through here", { status: 400 });
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
    get refusedUpgrades() {
      return refusedUpgrades;
    },
    get forwardedStreams() {
      return forwardedStreams;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}
