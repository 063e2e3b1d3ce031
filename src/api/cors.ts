/**
 * @module
 * Cross-origin requests to the API (`--cors-origin`): which origins get CORS headers, and the
 * answer to a browser's preflight. Browsers enforce CORS, the server does not: a request from an
 * origin that is not listed is answered as usual, without the headers. Pure.
 */

/** How long a browser may cache a preflight's answer, in seconds. */
export const PREFLIGHT_MAX_AGE = 600;

/** The `Access-Control-Allow-Origin` value for a request from `origin`, or null when it gets
 * none: `*` when every origin is allowed, else the origin itself when it is listed. */
export function allowedOrigin(origins: readonly string[], origin: string | null): string | null {
  if (origin === null || origins.length === 0) return null;
  if (origins.includes("*")) return "*";
  return origins.includes(origin) ? origin : null;
}

/** Adds the CORS headers for `allowed` (what `allowedOrigin` gave) to `headers`. */
export function addCorsHeaders(headers: Headers, allowed: string): void {
  headers.set("access-control-allow-origin", allowed);
  if (allowed !== "*") headers.append("vary", "Origin");
}

/** The 204 answer to a preflight for a path that takes `methods` and the request headers
 * `allowedHeaders`. */
export function preflightResponse(
  allowed: string,
  methods: Iterable<string>,
  allowedHeaders = "Authorization, Content-Type",
): Response {
  const headers = new Headers({
    "access-control-allow-methods": [...methods].join(", "),
    "access-control-allow-headers": allowedHeaders,
    "access-control-max-age": String(PREFLIGHT_MAX_AGE),
  });
  addCorsHeaders(headers, allowed);
  return new Response(null, { status: 204, headers });
}
