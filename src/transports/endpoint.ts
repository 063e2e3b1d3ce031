/**
 * @module
 * The WebSocket listener's request handler: the only `Deno.upgradeWebSocket` call. Refuses
 * what it must (another path, a plain request, past `--max-connections`, during shutdown),
 * upgrades the rest into WebSocket transports, streams `GET /events` through the SSE one, and
 * tracks every session so shutdown can close them all.
 */

import { addCorsHeaders, allowedOrigin, preflightResponse } from "../api/cors.ts";
import { errorResponse, HttpError } from "../api/response.ts";
import type { CloseSpec } from "../protocol.ts";
import type { SessionContext } from "../session/context.ts";
import type { Session } from "../session/session.ts";
import { errorMessage } from "../text.ts";
import { settlesWithin } from "../timing.ts";
import { openSse } from "./sse.ts";
import { WebSocketTransport } from "./websocket.ts";

/** What the endpoint needs besides what every connection shares. */
export interface WsOptions {
  /** Open connections in all; an upgrade past it is answered 503. */
  readonly maxConnections: number;
  /** Seconds between pings to an idle client; a client that does not answer is closed. 0
   * disables pings. */
  readonly pingIntervalSeconds: number;
  /** Origins an upgrade may come from (`--allowed-origins`); empty: any. A request without an
   * `Origin` header (not a browser) is always allowed. */
  readonly allowedOrigins: readonly string[];
}

/** The WebSocket listener's handler, and a way to close every socket it opened. */
export interface WsEndpoint {
  /** Upgrades requests for `/`, streams `/events`; answers anything else with a JSON error. */
  readonly handler: (request: Request) => Response | Promise<Response>;
  /** How many connections are open or opening. */
  readonly size: number;
  /** Refuses new upgrades, closes every socket with `close`, and resolves once all have
   * finished their close handshakes (true), or after `timeoutMs` (false). */
  closeAll(close: CloseSpec, timeoutMs: number): Promise<boolean>;
}

/** Builds the WebSocket endpoint. `shared` is handed to every session, with this endpoint as
 * its tracker. */
export function createWsEndpoint(
  shared: Omit<SessionContext, "tracker"> & { readonly keepAliveMs?: number },
  options: WsOptions,
): WsEndpoint {
  // Every socket until its close event, closing ones too: Deno cannot tear down a server
  // WebSocket whose peer never answers the close, so those still hold a file descriptor.
  const connections = new Set<{ close(code: number, reason: string): void }>();
  let closing: CloseSpec | undefined;
  let allClosed: (() => void) | undefined;
  const context: SessionContext & { readonly keepAliveMs?: number } = {
    ...shared,
    tracker: {
      closing: () => closing,
      forget(connection) {
        connections.delete(connection);
        if (connections.size === 0) allClosed?.();
      },
    },
  };
  const { metrics, logger } = shared;
  const idleTimeout = Math.ceil(options.pingIntervalSeconds);

  const streams = { add: (session: Session) => connections.add(session) };

  const eventsOrigins = options.allowedOrigins.length > 0 ? options.allowedOrigins : ["*"];
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    const isEvents = pathname === "/events";
    if (pathname !== "/" && !isEvents) {
      return errorResponse(new HttpError(404, `no WebSocket endpoint at ${pathname}`));
    }
    // A page may read the stream from another origin when it may connect at all (CORS).
    const eventsOrigin = isEvents
      ? allowedOrigin(eventsOrigins, request.headers.get("origin"))
      : null;
    if (isEvents && request.method === "OPTIONS" && eventsOrigin !== null) {
      return preflightResponse(eventsOrigin, ["GET"], "Authorization, Last-Event-ID");
    }
    if (isEvents && request.method !== "GET") {
      return errorResponse(
        new HttpError(405, `method ${request.method} not allowed on /events; allowed: GET`, {
          headers: { allow: "GET" },
        }),
      );
    }
    if (closing !== undefined) return refuse(503, "server shutting down");
    const origin = request.headers.get("origin");
    if (options.allowedOrigins.length > 0 && origin !== null) {
      if (!options.allowedOrigins.includes(origin)) {
        return refuse(
          403,
          `origin: ${JSON.stringify(origin)} is not allowed (see --allowed-origins)`,
        );
      }
    }
    if (isEvents) {
      if (connections.size >= options.maxConnections) {
        return refuse(503, `too many connections (at most ${options.maxConnections})`);
      }
      const response = await openSse(request, { context, tracker: streams });
      if (eventsOrigin !== null) addCorsHeaders(response.headers, eventsOrigin);
      return response;
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(
        new HttpError(426, "expected a WebSocket upgrade request", {
          headers: { upgrade: "websocket" },
        }),
      );
    }
    if (connections.size >= options.maxConnections) {
      return refuse(503, `too many connections (at most ${options.maxConnections})`);
    }
    let upgraded: Deno.WebSocketUpgrade;
    try {
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout });
    } catch (error) {
      return refuse(400, `invalid WebSocket upgrade request: ${errorMessage(error)}`);
    }
    connections.add(new WebSocketTransport(upgraded.socket, context).session);
    return upgraded.response;
  };

  function refuse(status: number, message: string): Response {
    metrics.connectionsRefused++;
    logger.warn("refused WebSocket upgrade", { status, reason: message });
    return errorResponse(new HttpError(status, message));
  }

  const closeAll = (close: CloseSpec, timeoutMs: number) => {
    closing = close;
    if (connections.size === 0) return Promise.resolve(true);
    const closed = new Promise<void>((resolve) => allClosed = resolve);
    for (const connection of connections) connection.close(close.code, close.reason);
    return settlesWithin(closed, timeoutMs);
  };

  return {
    handler,
    get size() {
      return connections.size;
    },
    closeAll,
  };
}
