/**
 * @module
 * Shared test fixtures: a real server on port 0 with waits driven by hub events, and a
 * WebSocket client whose every wait has a timeout naming what it waited for.
 */

import { type Config, DEFAULT_CONFIG } from "../src/config.ts";
import type { ApiContext } from "../src/api/context.ts";
import { Hub } from "../src/hub.ts";
import { Metrics } from "../src/metrics.ts";
import { composeBackend } from "../src/backend/compose.ts";
import { type Logger, silentLogger } from "../src/log.ts";
import { type RunningServer, startServer } from "../src/server.ts";

/** How long any single wait in a test may take before it fails, in milliseconds. */
export const WAIT_MS = 2_000;

/** Rejects with `Error("timed out after …: <what>")` unless `promise` settles within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `predicate()` holds, checking now and after every hub change. */
export function untilHub(hub: Hub, predicate: () => boolean, what: string): Promise<void> {
  if (predicate()) return Promise.resolve();
  let stop = () => {};
  const reached = new Promise<void>((resolve) => {
    stop = hub.onChange(() => {
      if (predicate()) resolve();
    });
  });
  return withTimeout(reached, what).finally(stop);
}

/** A real server on port 0 with test conveniences. */
export interface TestServer extends RunningServer {
  /** Mints a token through `POST /token/`. */
  mintToken(): Promise<string>;
  /** Resolves once `channel` has exactly `count` subscribers. */
  untilMembers(channel: string, count: number): Promise<void>;
  /** Resolves once `count` connections are open (anonymous or not). */
  untilConnections(count: number): Promise<void>;
  /** Resolves once `token` has exactly `count` authenticated connections. */
  untilAuthenticated(token: string, count: number): Promise<void>;
  /** `fetch` of a path on the API, e.g. `/token/`. */
  api(path: string, init?: RequestInit): Promise<Response>;
}

/** Starts the real server with both listeners on 127.0.0.1 port 0; `overrides` change the
 * configuration. Dispose it to shut it down. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  deps: { tokens?: Iterable<string>; logger?: Logger; openTimeoutMs?: number } = {},
): Promise<TestServer> {
  const config: Config = { ...DEFAULT_CONFIG, apiPort: 0, wsPort: 0, ...overrides };
  const server = await startServer(config, { logger: silentLogger(), ...deps });
  const { hub } = server;
  const api = (path: string, init?: RequestInit) => fetch(`${server.apiUrl}${path}`, init);
  return Object.assign(server, {
    api,
    async mintToken() {
      const response = await api("/token/", { method: "POST" });
      if (response.status !== 200) throw new Error(`POST /token/ answered ${response.status}`);
      return ((await response.json()) as { token: string }).token;
    },
    untilMembers: (channel: string, count: number) =>
      untilHub(hub, () => hub.memberCount(channel) === count, `${count} members of ${channel}`),
    untilConnections: (count: number) =>
      untilHub(hub, () => hub.connectionCount === count, `${count} open connections`),
    untilAuthenticated: (token: string, count: number) =>
      untilHub(
        hub,
        () => (hub.snapshot().tokens.find(([t]) => t === token)?.[1] ?? 0) === count,
        `${count} connections authenticated with a token`,
      ),
  });
}

/** An API context over a fresh hub and a standalone cluster holding `tokens`, for calling
 * route lists directly. */
export function apiContext(
  { tokens = [], ...overrides }: Partial<ApiContext> & { tokens?: Iterable<string> } = {},
): ApiContext {
  const hub = overrides.hub ?? new Hub();
  const metrics = overrides.metrics ?? new Metrics();
  const logger = silentLogger();
  return {
    hub,
    cluster: composeBackend(DEFAULT_CONFIG, { hub, metrics, logger, tokens }),
    metrics,
    logger,
    maxBodyBytes: DEFAULT_CONFIG.maxBodyBytes,
    bodyTimeout: DEFAULT_CONFIG.bodyTimeout,
    debug: true,
    dashboard: true,
    apiKeys: [],
    allowedHosts: [],
    corsOrigins: [],
    isShuttingDown: () => false,
    ...overrides,
  };
}

/** A received close: its code and reason. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A WebSocket client that queues what it receives. Dispose it to close it. */
export class TestClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly #queue: unknown[] = [];
  readonly #waiters: Array<(value: unknown) => void> = [];
  readonly closed: Promise<CloseInfo>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      const value = JSON.parse(event.data as string);
      const waiter = this.#waiters.shift();
      if (waiter) waiter(value);
      else this.#queue.push(value);
    };
    this.closed = new Promise((resolve) => {
      socket.addEventListener(
        "close",
        (event) => resolve({ code: event.code, reason: event.reason }),
      );
    });
  }

  /** Opens a connection to `url` and waits until it is open. */
  static async connect(url: string): Promise<TestClient> {
    const socket = new WebSocket(url);
    const client = new TestClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
      }),
      `connection to ${url}`,
    );
    return client;
  }

  /** Sends `message` as a JSON text frame (a string is sent as it is). */
  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message received, parsed; rejects after `ms` (default `WAIT_MS`). */
  next(what = "a message", ms = WAIT_MS): Promise<unknown> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift());
    let waiter!: (value: unknown) => void;
    const received = new Promise<unknown>((resolve) => {
      waiter = resolve;
      this.#waiters.push(resolve);
    });
    return withTimeout(received, what, ms).catch((error) => {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      throw error;
    });
  }

  /** Messages received and not yet taken by `next()`. */
  get pending(): readonly unknown[] {
    return this.#queue;
  }

  /** Sends `message` with a `ref` and returns the server's reply to it. */
  async request(message: Record<string, unknown>, ref: string | number = 1): Promise<unknown> {
    this.send({ ...message, ref });
    return await this.next(`the reply to ref ${JSON.stringify(ref)}`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      if (this.socket.readyState !== WebSocket.CLOSING) this.socket.close();
      await withTimeout(this.closed, "the client socket to close");
    }
  }
}

/** Connects, retrying while the server refuses the upgrade (each retry awaits the refusal,
 * never a timer), for at most `WAIT_MS`. */
export async function connectOnceAccepted(url: string): Promise<TestClient> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await TestClient.connect(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}
