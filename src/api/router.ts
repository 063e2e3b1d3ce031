/**
 * @module
 * Routes HTTP API requests by method and path to handlers: 404 for an unknown path, 405 with
 * `Allow` for a known path with another method, `HttpError` → `{"errors": [...]}`, and anything
 * else → a logged 500. A trailing slash is optional on every route; path parameters arrive
 * percent-decoded. Knows nothing of what the handlers do.
 */

import type { Logger } from "../log.ts";
import { addCorsHeaders, allowedOrigin, preflightResponse } from "./cors.ts";
import { compilePath, type PathMatcher } from "./path.ts";
import { PathnameReader } from "./pathname.ts";
import { errorResponse, HttpError } from "./response.ts";
import { errorMessage } from "../text.ts";

/** The HTTP methods routes are declared with; `HEAD` is served by `GET` routes. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** What a handler gets: the request and its decoded path parameters. */
export interface RouteContext {
  readonly request: Request;
  readonly params: Readonly<Record<string, string>>;
}

/** Answers one request; throws `HttpError` for a client's mistake. */
export type Handler = (context: RouteContext) => Response | Promise<Response>;

/** One route: `path` is a template such as `/broadcast/:channel` (literal segments and
 * `:name` parameters), without the trailing slash (added as optional). */
export interface Route {
  readonly method: Method;
  readonly path: string;
  readonly handler: Handler;
  /** When true, the router's `authorize` check is skipped. Default false. */
  readonly isPublic?: boolean;
}

/** Options of `createRouter`. */
export interface RouterOptions {
  /** Logs unexpected errors. */
  readonly logger: Logger;
  /** Throws `HttpError` for a request that may not use non-public routes; runs before their
   * handlers and before a 404 or 405 answer. Default: everyone may. */
  readonly authorize?: (request: Request) => void;
  /** Origins whose cross-origin requests get CORS headers and preflight answers
   * (`--cors-origin`); empty: no CORS header at all. Default: empty. */
  readonly corsOrigins?: readonly string[];
}

/** Answers any request. */
export type RequestHandler = (request: Request) => Promise<Response>;

interface CompiledRoute extends Route {
  readonly matcher: PathMatcher;
}

/** Builds a request handler from `routes`, tried in order: the first route whose path and
 * method match answers. Unexpected errors are logged once, with method and path, and answered
 * 500 without details. */
export function createRouter(routes: readonly Route[], options: RouterOptions): RequestHandler {
  const { logger, authorize = () => {}, corsOrigins = [] } = options;
  const compiled: CompiledRoute[] = routes.map((route) => ({
    ...route,
    matcher: compilePath(route.path),
  }));
  const paths = new PathnameReader();
  // One async function a request: every layer of `await` costs a promise and a turn.
  return async (request) => {
    const pathname = paths.pathname(request.url);
    const cors = corsOrigins.length === 0
      ? null
      : allowedOrigin(corsOrigins, request.headers.get("origin"));
    if (cors !== null && isPreflight(request)) {
      const methods = methodsOf(compiled, pathname);
      // A preflight carries no credentials: it is answered before the API key check.
      if (methods.size > 0) return preflightResponse(cors, methods);
    }
    let route: Route | undefined;
    let answered: Response;
    try {
      const found = findRoute(compiled, request, { pathname, authorize });
      route = found.route;
      answered = await route.handler({ request, params: found.params });
    } catch (error) {
      answered = errorAnswer(error, { request, route, logger });
    }
    const response = request.method === "HEAD" ? withoutBody(answered) : answered;
    if (cors !== null) addCorsHeaders(response.headers, cors);
    return response;
  };
}

function isPreflight(request: Request): boolean {
  return request.method === "OPTIONS" && request.headers.has("access-control-request-method");
}

/** The methods the routes take at `pathname` (with HEAD for GET). */
function methodsOf(routes: readonly CompiledRoute[], pathname: string): Set<string> {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.matcher.match(pathname) === null) continue;
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
  }
  return methods;
}

/** The answer to what a route's handler (`route`) or the routing itself (no route) threw:
 * an `HttpError`'s own, else a logged 500. */
function errorAnswer(
  error: unknown,
  { request, route, logger }: { request: Request; route: Route | undefined; logger: Logger },
): Response {
  if (error instanceof HttpError) return errorResponse(error);
  // The route's pattern, not the path: a path may hold a token.
  logger.error("unhandled error in API handler", {
    method: request.method,
    route: route?.path ?? "(none)",
    error: errorMessage(error),
  });
  return errorResponse(new HttpError(500, "internal error"));
}

/** The route that answers `request` and its decoded parameters, once `authorize` let it
 * through (unless the route is public); throws the `HttpError` that answers it otherwise:
 * 404, 405 with `Allow`, or 400 for a malformed parameter. */
function findRoute(
  routes: readonly CompiledRoute[],
  request: Request,
  { pathname, authorize }: { pathname: string; authorize: (request: Request) => void },
): { route: Route; params: Record<string, string> } {
  const method = request.method === "HEAD" ? "GET" : request.method;
  // Made only when a path is asked with another method than its route's.
  let allowed: Set<string> | undefined;
  for (const route of routes) {
    const rawParams = route.matcher.match(pathname);
    if (rawParams === null) continue;
    if (route.method !== method) {
      allowed ??= new Set();
      allowed.add(route.method);
      if (route.method === "GET") allowed.add("HEAD");
      continue;
    }
    if (!route.isPublic) authorize(request);
    return { route, params: decodeParams(rawParams) };
  }
  // Without credentials, an unknown path must not be told apart from a known one.
  authorize(request);
  if (allowed === undefined) throw new HttpError(404, `no route for ${pathname}`);
  const allow = [...allowed].join(", ");
  throw new HttpError(
    405,
    `method ${request.method} not allowed on ${pathname}; allowed: ${allow}`,
    {
      headers: { allow },
    },
  );
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const name in raw) {
    const value = raw[name]!;
    // Without a `%` there is nothing to decode: the value is its own decoding.
    if (!value.includes("%")) {
      params[name] = value;
      continue;
    }
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      throw new HttpError(400, `${name}: malformed percent-encoding in ${JSON.stringify(value)}`);
    }
  }
  return params;
}

function withoutBody(response: Response): Response {
  response.body?.cancel();
  return new Response(null, { status: response.status, headers: response.headers });
}
