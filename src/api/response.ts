/**
 * @module
 * How the HTTP API answers: JSON bodies in the original Boreas's spelling, plain text, and the
 * `HttpError` that handlers throw. Knows nothing of routes or the hub.
 */

/** An error a handler throws to answer `status` with `{"errors": [message]}`. */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    message: string,
    options?: ErrorOptions & { headers?: Record<string, string> },
  ) {
    super(message, options);
    this.name = "HttpError";
    this.status = status;
    this.headers = options?.headers ?? {};
  }
}

/** Renders `value` as JSON with `", "` and `": "` between items, as the original's Python
 * server did (`{"token": "..."}`), so its documented output is reproduced to the byte. */
export function formatJson(value: unknown): string {
  if (typeof (value as { toJSON?: unknown } | null)?.toJSON === "function") {
    return formatJson((value as { toJSON(): unknown }).toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((item) => formatJson(item)).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    // A loop, not entries().filter().map(): every API answer comes through here.
    let text = "";
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item === undefined) continue;
      text += `${text === "" ? "" : ", "}${JSON.stringify(key)}: ${formatJson(item)}`;
    }
    return `{${text}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** A `Content-Type: application/json` response. */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers?: Record<string, string>,
): Response {
  return new Response(formatJson(body), {
    status,
    headers: headers === undefined ? JSON_HEADERS : { ...headers, ...JSON_HEADERS },
  });
}

const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "application/json",
});

/** A `text/plain` response. */
export function textResponse(body: string, status = 200): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** The `{"errors": [...]}` response for `error`. */
export function errorResponse(error: HttpError): Response {
  return jsonResponse({ errors: [error.message] }, error.status, { ...error.headers });
}
