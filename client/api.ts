/**
 * @module
 * The publisher's side: `BoreasApi` calls the HTTP API (tokens, broadcasts to one channel or
 * many, history, users, health, stats) with `fetch`, and turns error answers into
 * `BoreasApiError`. Web-platform APIs only.
 */

import type {
  BlockUserOptions,
  BoreasApiOptions,
  BroadcastOptions,
  CreateTokenOptions,
  DisconnectUserOptions,
  Health,
  History,
  HistoryOptions,
  Published,
  PublishedMany,
  RequestOptions,
  Stats,
  UserBlock,
  UserBlocked,
  UserDisconnected,
  UserState,
} from "./api_types.ts";
import { BoreasApiError } from "./errors.ts";

/** A client of the Boreas HTTP API: mints and revokes tokens, publishes, reads health and
 * stats. Each call is one `fetch`; every response body is read or cancelled.
 *
 * An answer with an error status rejects with `BoreasApiError`; a network failure or an
 * abort rejects with `fetch`'s own error.
 *
 * ```ts
 * import { BoreasApi } from "./mod.ts";
 *
 * const api = new BoreasApi({ url: "http://localhost:8001", apiKey: "secret" });
 * const token = await api.createToken(); // hand it to a subscriber
 * const recipients = await api.broadcast("news", { text: "hello" });
 * ```
 */
export class BoreasApi {
  readonly #base: string;
  readonly #apiKey: string | undefined;
  readonly #fetch: typeof fetch;

  /** Throws `TypeError` when `url` is not an `http:` or `https:` URL. */
  constructor(options: BoreasApiOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`url: expected an http: or https: URL, got ${JSON.stringify(url.href)}`);
    }
    this.#base = `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  /** Mints a token (`POST /token/`) that a subscriber can authenticate with, granting what
   * `options` say (no grant field: every channel, publishing nowhere, forever).
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const token = await new BoreasApi({ url: "http://localhost:8001" }).createToken();
   * ```
   */
  async createToken(options: CreateTokenOptions = {}): Promise<string> {
    const label = "POST /token/";
    const { signal, ...fields } = options;
    const grant = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    const request = {
      label,
      ...(signal === undefined ? {} : { signal }),
      ...(Object.keys(grant).length === 0 ? {} : { body: grant }),
    };
    const body = await this.#json("POST", "/token/", request, {
      expected: 'a {"token": "..."} object',
      isExpected: (body): body is { token: string } =>
        isRecord(body) && typeof body.token === "string",
    });
    return body.token;
  }

  /** The tokens with at least one authenticated connection now (`GET /token/`), or, given a
   * channel, the distinct tokens of its subscribers (`GET /{channel}/token/`). Throws
   * `RangeError` for the channels `.` and `..`, which no URL path can name.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const everyone = await api.listTokens();
   * const onNews = await api.listTokens("news");
   * ```
   */
  async listTokens(channel?: string, options: RequestOptions = {}): Promise<string[]> {
    const path = channel === undefined ? "/token/" : `/${channelSegment(channel)}/token/`;
    const label = channel === undefined ? "GET /token/" : "GET /{channel}/token/";
    const body = await this.#json("GET", path, { ...options, label }, {
      expected: 'a {"tokens": [...]} object',
      isExpected: (body): body is { tokens: string[] } =>
        isRecord(body) && isStringArray(body.tokens),
    });
    return body.tokens;
  }

  /** Revokes `token` (`DELETE /token/{token}/`): it can no longer authenticate, and the server
   * closes its connections with 4001. Rejects with a 404 `BoreasApiError` for a token that is
   * neither valid nor in use. Error messages never contain the token.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * await api.revokeToken(await api.createToken());
   * ```
   */
  async revokeToken(token: string, options: RequestOptions = {}): Promise<void> {
    const path = `/token/${encodeURIComponent(token)}/`;
    const response = await this.#request("DELETE", path, {
      ...options,
      label: "DELETE /token/{token}/",
    });
    await response.body?.cancel();
  }

  /** Publishes `payload` to every subscriber of `channel` (`POST /broadcast/{channel}/`) and
   * returns how many connections were sent it, or with `dryRun` would have been. `payload`
   * is sent as JSON and must not be `null` or `undefined` (the server answers 400). Throws
   * `RangeError` for the channels `.` and `..`.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const wouldReach = await api.broadcast("news", { text: "hi" }, { dryRun: true });
   * const reached = await api.broadcast("news", { text: "hi" });
   * ```
   */
  async broadcast(
    channel: string,
    payload: unknown,
    options: BroadcastOptions = {},
  ): Promise<number> {
    return (await this.publish(channel, payload, options)).recipients;
  }

  /** `broadcast()`, resolving to the server's whole answer: the recipients and, with history
   * on (and not a dry run), the message's `offset` and the channel's `epoch`.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const { recipients, offset, epoch } = await api.publish("news", { text: "hi" });
   * ```
   */
  async publish(
    channel: string,
    payload: unknown,
    options: BroadcastOptions = {},
  ): Promise<Published> {
    const { dryRun = false, ...rest } = options;
    const label = "POST /broadcast/{channel}/";
    const path = `/broadcast/${channelSegment(channel)}/`;
    const body = await this.#json("POST", path, {
      ...rest,
      label,
      body: { payload, dryrun: dryRun },
    }, {
      expected: 'a {"recipients": N} object',
      isExpected: (body): body is Record<string, unknown> & { recipients: number } =>
        isRecord(body) && typeof body.recipients === "number",
    });
    const { recipients, offset, epoch } = body;
    return typeof offset === "number" && typeof epoch === "string"
      ? { recipients, offset, epoch }
      : { recipients };
  }

  /** Publishes `payload` to every subscriber of each of `channels` in one call
   * (`POST /broadcast/`): a subscriber of several gets one message per channel. Resolves to
   * the recipients by channel and, with history on (and not a dry run), each channel's
   * position. The server takes 1 to 100 channels, each valid name once (a repeat counts
   * once), and answers 400 naming `channels` or `channels[i]` otherwise, sending nothing.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const { recipients } = await api.broadcastMany(["room:1", "room:2"], { text: "hi" });
   * const wouldReach = await api.broadcastMany(["room:1"], "hi", { dryRun: true });
   * ```
   */
  async broadcastMany(
    channels: readonly string[],
    payload: unknown,
    options: BroadcastOptions = {},
  ): Promise<PublishedMany> {
    const { dryRun = false, ...rest } = options;
    const body = await this.#json("POST", "/broadcast/", {
      ...rest,
      label: "POST /broadcast/",
      body: { channels, payload, dryrun: dryRun },
    }, {
      expected: 'a {"recipients": {...}} object',
      isExpected: (body): body is Record<string, unknown> & { recipients: object } =>
        isRecord(body) && isRecord(body.recipients),
    });
    const recipients = body.recipients as PublishedMany["recipients"];
    return isRecord(body.positions)
      ? { recipients, positions: body.positions as NonNullable<PublishedMany["positions"]> }
      : { recipients };
  }

  /** The messages `channel` still keeps (`GET /history/{channel}/`), oldest first: those with
   * an offset above `since`, at most `limit` of them, with the channel's epoch and last
   * offset. For more, ask again with `since` set to the last offset received. Rejects with a
   * 404 `BoreasApiError` when the server keeps no history. Throws `RangeError` for a `since`
   * or `limit` that is not a whole number (at least 0, at least 1), for `.` and `..`, and for
   * the channel `token`, whose path is another route's (`GET /history/token/` lists the
   * tokens of the channel `history`).
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const { epoch, messages } = await api.history("news", { since: 40, limit: 10 });
   * ```
   */
  async history<T = unknown>(channel: string, options: HistoryOptions = {}): Promise<History<T>> {
    const { since, limit, ...rest } = options;
    if (channel === "token") {
      throw new RangeError('channel: "token" has no history route (/history/token/ is taken)');
    }
    const query = new URLSearchParams();
    if (since !== undefined) query.set("since", String(wholeNumber("since", since, 0)));
    if (limit !== undefined) query.set("limit", String(wholeNumber("limit", limit, 1)));
    const search = query.size === 0 ? "" : `?${query}`;
    const path = `/history/${channelSegment(channel)}/${search}`;
    return await this.#json("GET", path, { ...rest, label: "GET /history/{channel}/" }, {
      expected: 'a {"epoch": "E", "offset": N, "messages": [...]} object',
      isExpected: (body): body is History<T> =>
        isRecord(body) && typeof body.epoch === "string" && typeof body.offset === "number" &&
        Array.isArray(body.messages),
    });
  }

  /** How many connections and stored tokens `user` has, and their block
   * (`GET /users/{user}/`). Throws `RangeError` for a user no URL path can name (empty, `.`,
   * `..`) and for `token`, whose path is another route's (`GET /users/token/` lists the
   * tokens of the channel `users`).
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const { connections, block } = await new BoreasApi({ url: "http://localhost:8001" })
   *   .user("alice");
   * ```
   */
  async user(user: string, options: RequestOptions = {}): Promise<UserState> {
    if (user === "token") {
      throw new RangeError('user: "token" cannot be read (/users/token/ is taken)');
    }
    const path = `/users/${userSegment(user)}/`;
    return await this.#json("GET", path, { ...options, label: "GET /users/{user}/" }, {
      expected: 'a {"connections": N, "tokens": N, "block": ...} object',
      isExpected: (body): body is UserState =>
        isRecord(body) && typeof body.connections === "number" &&
        typeof body.tokens === "number" && (body.block === null || isBlock(body.block)),
    });
  }

  /** Closes every connection of `user` on every node (`DELETE /users/{user}/`), with 4005
   * `disconnected`, and revokes the stored tokens naming them unless `revoke` is false.
   * Resolves to how many connections were closed and tokens revoked. A JWT cannot be revoked:
   * block the user (`blockUser`) to keep them out. Throws `RangeError` as `user()` does.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const { closed, revoked } = await api.disconnectUser("alice");
   * ```
   */
  async disconnectUser(
    user: string,
    options: DisconnectUserOptions = {},
  ): Promise<UserDisconnected> {
    const { revoke = true, ...rest } = options;
    const path = `/users/${userSegment(user)}/${revoke ? "" : "?revoke=false"}`;
    return await this.#json("DELETE", path, { ...rest, label: "DELETE /users/{user}/" }, {
      expected: 'a {"closed": N, "revoked": N} object',
      isExpected: (body): body is UserDisconnected =>
        isRecord(body) && typeof body.closed === "number" && typeof body.revoked === "number",
    });
  }

  /** Blocks `user` (`PUT /users/{user}/block`) for `ttl` seconds, or until `unblockUser`: their
   * connections are closed on every node (4005), and no token naming them authenticates
   * meanwhile, opaque or JWT (`sub`). Blocking again replaces the block. Resolves to how many
   * connections were closed and the block. Throws `RangeError` for a `ttl` that is not a whole
   * number above 0, and as `user()` does.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const api = new BoreasApi({ url: "http://localhost:8001" });
   * const { block } = await api.blockUser("alice", { ttl: 600 });
   * ```
   */
  async blockUser(user: string, options: BlockUserOptions = {}): Promise<UserBlocked> {
    const { ttl, ...rest } = options;
    const body = ttl === undefined ? {} : { ttl: wholeNumber("ttl", ttl, 1) };
    const path = `/users/${userSegment(user)}/block`;
    return await this.#json("PUT", path, { ...rest, label: "PUT /users/{user}/block", body }, {
      expected: 'a {"closed": N, "block": {...}} object',
      isExpected: (body): body is UserBlocked =>
        isRecord(body) && typeof body.closed === "number" && isBlock(body.block),
    });
  }

  /** Lifts `user`'s block (`DELETE /users/{user}/block`). Rejects with a 404
   * `BoreasApiError` when they are not blocked. Throws `RangeError` as `user()` does.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * await new BoreasApi({ url: "http://localhost:8001" }).unblockUser("alice");
   * ```
   */
  async unblockUser(user: string, options: RequestOptions = {}): Promise<void> {
    const path = `/users/${userSegment(user)}/block`;
    const response = await this.#request("DELETE", path, {
      ...options,
      label: "DELETE /users/{user}/block",
    });
    await response.body?.cancel();
  }

  /** The server's counters (`GET /stats`).
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const { connections, channels } = await new BoreasApi({ url: "http://localhost:8001" })
   *   .stats();
   * ```
   */
  async stats(options: RequestOptions = {}): Promise<Stats> {
    return await this.#json("GET", "/stats", { ...options, label: "GET /stats" }, {
      expected: "a stats object",
      isExpected: (body): body is Stats =>
        isRecord(body) && isRecord(body.connections) && isRecord(body.memory),
    });
  }

  /** Whether the server is serving (`GET /health`, which needs no API key). Resolves to
   * `{ status: "shutting down" }` on the server's 503 during a shutdown, and to
   * `{ status: "degraded", errors }` when a cluster node cannot use Redis, rather than
   * rejecting.
   *
   * ```ts
   * import { BoreasApi } from "./mod.ts";
   *
   * const { status } = await new BoreasApi({ url: "http://localhost:8001" }).health();
   * ```
   */
  async health(options: RequestOptions = {}): Promise<Health> {
    const label = "GET /health";
    const body = await this.#json("GET", "/health", { ...options, label, accept: [503] }, {
      expected: 'a {"status": "ok" | "shutting down" | "degraded"} object',
      isExpected: (body): body is Health =>
        isRecord(body) &&
        (body.status === "ok" || body.status === "shutting down" || body.status === "degraded"),
    });
    if (body.status !== "degraded") return { status: body.status };
    const errors = Array.isArray(body.errors) ? body.errors.map(String) : [];
    return { status: body.status, errors };
  }

  /** Sends a request and parses its JSON answer, which must pass `shape.isExpected`. */
  async #json<T>(
    method: string,
    path: string,
    options: SendOptions,
    shape: { expected: string; isExpected: (body: unknown) => body is T },
  ): Promise<T> {
    const response = await this.#request(method, path, options);
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (shape.isExpected(body)) return body;
    throw new BoreasApiError(
      response.status,
      [`expected ${shape.expected}, got ${excerpt(text)}`],
      {
        request: options.label,
      },
    );
  }

  /** Sends a request; an answer with an error status (not in `accept`) becomes a
   * `BoreasApiError` and its body is consumed. */
  async #request(method: string, path: string, options: SendOptions): Promise<Response> {
    const { signal, label, body, accept = [] } = options;
    const headers = new Headers();
    if (this.#apiKey !== undefined) headers.set("authorization", `Bearer ${this.#apiKey}`);
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers.set("content-type", "application/json");
      init.body = JSON.stringify(body);
    }
    if (signal !== undefined) init.signal = signal;
    const send = this.#fetch;
    const response = await send(`${this.#base}${path}`, init);
    if (response.ok || accept.includes(response.status)) return response;
    throw await apiError(response, label);
  }
}

interface SendOptions extends RequestOptions {
  /** The request as errors name it, without secrets. */
  readonly label: string;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Error statuses answered with a body the caller reads. */
  readonly accept?: readonly number[];
}

/** Reads an error answer: the server's `{"errors": [...]}`, or one synthesized message;
 * `label` names the request in the message. */
export async function apiError(response: Response, label: string): Promise<BoreasApiError> {
  const { status, statusText } = response;
  let text = "";
  try {
    text = await response.text();
  } catch {
    // The status alone is still worth reporting.
  }
  let errors: string[] | undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && isStringArray(body.errors) && body.errors.length > 0) {
      errors = body.errors;
    }
  } catch {
    // Not JSON: a proxy's page, say.
  }
  errors ??= [`HTTP ${status}${statusText === "" ? "" : ` ${statusText}`}: ${excerpt(text)}`];
  return new BoreasApiError(status, errors, { request: label });
}

/** `channel` as one path segment. `.` and `..` would be removed by URL normalization, so
 * `GET /./token/` would silently become `GET /token/`. */
function channelSegment(channel: string): string {
  if (channel === "." || channel === "..") {
    throw new RangeError(`channel: ${JSON.stringify(channel)} cannot be named in a URL path`);
  }
  return encodeURIComponent(channel);
}

/** `user` as one path segment; throws `RangeError` for those no URL path can name. */
function userSegment(user: string): string {
  if (user === "" || user === "." || user === "..") {
    throw new RangeError(`user: ${JSON.stringify(user)} cannot be named in a URL path`);
  }
  return encodeURIComponent(user);
}

function isBlock(value: unknown): value is UserBlock {
  return isRecord(value) && (value.expires_at === null || typeof value.expires_at === "number");
}

/** `value`, checked to be a whole number of at least `min`; throws `RangeError` naming it. */
function wholeNumber(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name}: expected a whole number of at least ${min}, got ${value}`);
  }
  return value;
}

function excerpt(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  if (line === "") return "an empty body";
  return JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}…` : line);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}
