/**
 * @module
 * The WebSocket listener's request handler: the only `Deno.upgradeWebSocket` call. Refuses
 * what it must (another path, a plain request, another origin or host, past
 * `--max-connections` or `--max-anonymous-connections`, during shutdown), upgrades the rest
 * into WebSocket transports (Pusher's at `/app/{key}`, when apps are configured), streams
 * `GET /events` through the SSE one, and tracks every session so shutdown can close them all.
 */

import { addCorsHeaders, allowedOrigin, preflightResponse } from "../api/cors.ts";
import { errorResponse, HttpError } from "../api/response.ts";
import { HostCheck } from "../host_check.ts";
import type { CloseSpec } from "../protocol.ts";
import type { SessionContext } from "../session/context.ts";
import { errorMessage } from "../text.ts";
import { settlesWithin } from "../timing.ts";
import type { PusherApps } from "../session/pusher_apps.ts";
import { isPusherApiPath } from "../api/pusher/mod.ts";
import type { RequestHandler } from "../api/router.ts";
import { PusherActivity, PusherTransport } from "./pusher.ts";
import { openSse, type StreamTracker } from "./sse.ts";
import { WebSocketTransport } from "./websocket.ts";
import { OPEN_TIMEOUT_MS } from "./opening.ts";

/** What the endpoint needs besides what every connection shares. */
export interface WsOptions {
  /** Open connections in all; an upgrade past it is answered 503. */
  readonly maxConnections: number;
  /** Connections not yet authenticated, from their upgrade until they authenticate or their
   * socket is closed; an upgrade past it is answered 503. Unused when every connection is
   * authenticated as it opens (`requireAuth` off). */
  readonly maxAnonymousConnections: number;
  /** Seconds between pings to an idle client; a client that does not answer is closed. 0
   * disables pings. */
  readonly pingIntervalSeconds: number;
  /** Origins an upgrade may come from (`--allowed-origins`); empty: any. A request without an
   * `Origin` header (not a browser) is always allowed. */
  readonly allowedOrigins: readonly string[];
  /** When `allowedOrigins` is empty: host names a request's `Host` may name besides the
   * loopback ones (`--allowed-hosts`, `*` for any); null for any `Host`. */
  readonly allowedHosts: readonly string[] | null;
  /** The Pusher apps served at `/app/{key}`; absent: none. */
  readonly pusherApps?: PusherApps | undefined;
  /** Pusher's REST API, answering `/apps/...` here too; absent: none. */
  readonly pusherApi?: RequestHandler | undefined;
  /** How long an upgraded socket may take to open before it is forgotten, in milliseconds
   * (see opening.ts). Default: `OPEN_TIMEOUT_MS`. */
  readonly openTimeoutMs?: number | undefined;
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
  // Not yet authenticated, closing ones too: Deno reassembles each message whole before the
  // server sees it, and goes on doing so after the server's close.
  const anonymous = new Set<{ close(code: number, reason: string): void }>();
  const activity = new PusherActivity();
  let closing: CloseSpec | undefined;
  let allClosed: (() => void) | undefined;
  const context: SessionContext & { readonly keepAliveMs?: number } = {
    ...shared,
    tracker: {
      closing: () => closing,
      authenticated: (connection) => anonymous.delete(connection),
      forget(connection) {
        connections.delete(connection);
        anonymous.delete(connection);
        if (connections.size === 0) allClosed?.();
      },
    },
  };
  const { metrics, logger } = shared;
  const idleTimeout = Math.ceil(options.pingIntervalSeconds);
  const { openTimeoutMs = OPEN_TIMEOUT_MS } = options;

  const streams: StreamTracker = {
    add: (stream) => connections.add(stream),
    remove: (stream) => context.tracker.forget(stream),
  };

  const eventsOrigins = options.allowedOrigins.length > 0 ? options.allowedOrigins : ["*"];
  // Allowed origins already keep other sites' pages out; without them, the Host does.
  const hosts = options.allowedOrigins.length === 0 && options.allowedHosts !== null
    ? new HostCheck(options.allowedHosts)
    : null;
  const maxAnonymous = shared.requireAuth ? options.maxAnonymousConnections : Infinity;
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (options.pusherApi !== undefined && isPusherApiPath(pathname)) {
      return options.pusherApi(request);
    }
    const isEvents = pathname === "/events";
    const isPusher = options.pusherApps?.isAppPath(pathname) ?? false;
    if (pathname !== "/" && !isEvents && !isPusher) {
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
    const hostRefusal = hosts?.refusal(request);
    if (hostRefusal !== undefined) return refuse(403, hostRefusal);
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
    if (anonymous.size >= maxAnonymous && !isPusher) {
      return refuse(503, `too many anonymous connections (at most ${maxAnonymous})`);
    }
    let upgraded: Deno.WebSocketUpgrade;
    try {
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout });
    } catch (error) {
      return refuse(400, `invalid WebSocket upgrade request: ${errorMessage(error)}`);
    }
    if (isPusher) {
      // Admitted or not, the socket opens: Pusher tells a refusal with its own close codes.
      const admission = options.pusherApps!.admit(new URL(request.url), context);
      const { session } = new PusherTransport(upgraded.socket, context, {
        admission,
        activity,
        openTimeoutMs,
      });
      if (session !== null) connections.add(session);
      return upgraded.response;
    }
    const { session } = new WebSocketTransport(upgraded.socket, context, { openTimeoutMs });
    connections.add(session);
    if (shared.requireAuth) anonymous.add(session);
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
