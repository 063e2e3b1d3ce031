/**
 * @module
 * Fixtures for the Pusher tests: apps, a server serving them, a raw Pusher WebSocket client
 * that keeps every frame's exact text, and the real pusher-js client with the real pusher
 * SDK as its authorizer.
 */

import Pusher from "pusher";
import PusherJsModule from "pusher-js";
import { PUSHER_APP_DEFAULTS, type PusherApp } from "../src/config_pusher_apps.ts";
import {
  type CloseInfo,
  startTestServer,
  type TestServer,
  WAIT_MS,
  withTimeout,
} from "./helpers.ts";

// pusher-js's Node build exports its class as the module itself; its types call it `default`.
const PusherJs = PusherJsModule as unknown as typeof PusherJsModule.default;
type PusherJs = InstanceType<typeof PusherJs>;

/** An app with Pusher's defaults but for what `fields` say. */
export function pusherApp(
  fields: Pick<PusherApp, "id" | "key" | "secret"> & Partial<PusherApp>,
): PusherApp {
  return { ...PUSHER_APP_DEFAULTS, ...fields };
}

/** The app most tests use: client events on. */
export const APP = pusherApp({
  id: "1001",
  key: "app-key",
  secret: "app-secret",
  enableClientMessages: true,
});

/** A server serving `apps` (default: `APP`). */
export function startPusherServer(
  apps: readonly PusherApp[] = [APP],
  overrides: Parameters<typeof startTestServer>[0] = {},
): Promise<TestServer> {
  return startTestServer({ pusherApps: apps, ...overrides });
}

/** `ws://host:port/app/{key}?{query}`. */
export function appUrl(server: TestServer, key: string, query = "protocol=7&client=js"): string {
  return `ws://127.0.0.1:${server.wsAddr.port}/app/${key}${query === "" ? "" : `?${query}`}`;
}

/** A 32-byte master key for `private-encrypted-` channels, base64, as the SDK takes it. */
export const ENCRYPTION_MASTER_KEY = btoa("0123456789abcdef0123456789abcdef");

/** The real server SDK for `app`, to sign as a Laravel or Node backend would; it calls the
 * API listener of `server` (or its WebSocket listener, `on: "ws"`). With `encrypted`, it
 * holds `ENCRYPTION_MASTER_KEY` for `private-encrypted-` channels. */
export function serverSdk(
  app: PusherApp,
  server?: TestServer,
  { on = "api", encrypted = false }: { on?: "api" | "ws"; encrypted?: boolean } = {},
): Pusher {
  const port = server === undefined ? 1 : (on === "api" ? server.apiAddr : server.wsAddr).port;
  return new Pusher({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: "127.0.0.1",
    port: String(port),
    ...(encrypted ? { encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY } : {}),
  });
}

/** One frame a raw client received: its exact text, parsed. */
export interface RawFrame {
  readonly text: string;
  readonly event: string;
  readonly channel?: string;
  readonly data: unknown;
}

/** A raw Pusher client: a plain WebSocket that queues frames. Dispose it to close it. */
export class RawPusher implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseInfo>;
  readonly #frames: RawFrame[] = [];
  #wake: (() => void) | undefined;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      const text = event.data as string;
      this.#frames.push({ text, ...JSON.parse(text) });
      this.#wake?.();
    };
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        this.#wake?.();
      });
    });
  }

  /** Opens a connection to `url` and waits until it is open. */
  static async connect(url: string): Promise<RawPusher> {
    const socket = new WebSocket(url);
    const client = new RawPusher(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
      }),
      `connection to ${url}`,
    );
    return client;
  }

  /** Connects and takes `pusher:connection_established`; returns the client and socket id. */
  static async established(url: string): Promise<{ client: RawPusher; socketId: string }> {
    const client = await RawPusher.connect(url);
    const frame = await client.next("pusher:connection_established");
    if (frame.event !== "pusher:connection_established") throw new Error(frame.text);
    return { client, socketId: JSON.parse(frame.data as string).socket_id };
  }

  /** Sends `message` as JSON (a string as it is). */
  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next frame received, or the next of event `event` (skipping others). */
  async next(what: string, event?: string): Promise<RawFrame> {
    const take = () => {
      const index = this.#frames.findIndex((frame) => event === undefined || frame.event === event);
      return index === -1 ? undefined : this.#frames.splice(index, 1)[0];
    };
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const frame = take();
      if (frame !== undefined) return frame;
      if (this.socket.readyState === WebSocket.CLOSED) throw new Error(`closed before ${what}`);
      await withTimeout(
        new Promise<void>((resolve) => this.#wake = resolve),
        what,
        Math.max(1, deadline - Date.now()),
      );
    }
  }

  /** Frames received and not taken. */
  get pending(): readonly RawFrame[] {
    return this.#frames;
  }

  /** Subscribes to `channel` (with `auth`) and takes the answer. */
  async subscribe(channel: string, auth?: string): Promise<RawFrame> {
    this.send({
      event: "pusher:subscribe",
      data: { channel, ...(auth === undefined ? {} : { auth }) },
    });
    const frame = await this.next(`the answer to subscribing to ${channel}`);
    return frame;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      if (this.socket.readyState !== WebSocket.CLOSING) this.socket.close();
      await withTimeout(this.closed, "the raw Pusher socket to close");
    }
  }
}

/** A pusher-js client of `app` on `server`, authorized by the real SDK (or `authorize`). */
export async function connectPusherJs(
  server: TestServer,
  app: PusherApp,
  authorize: (socketId: string, channel: string) => { auth: string } = (socketId, channel) =>
    serverSdk(app).authorizeChannel(socketId, channel),
  { user = { id: "user-1" } }: { user?: { id: string } & Record<string, unknown> } = {},
): Promise<PusherJs & AsyncDisposable> {
  const client = new PusherJs(app.key, {
    cluster: "",
    wsHost: "127.0.0.1",
    wsPort: server.wsAddr.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: {
      endpoint: "/unused",
      transport: "ajax",
      customHandler: (
        { socketId, channelName }: { socketId: string; channelName: string },
        callback: (error: Error | null, data: { auth: string } | null) => void,
      ) => callback(null, authorize(socketId, channelName)),
    },
    userAuthentication: {
      endpoint: "/unused",
      transport: "ajax",
      customHandler: (
        { socketId }: { socketId: string },
        callback: (error: Error | null, data: { auth: string; "user_data": string }) => void,
      ) => callback(null, serverSdk(app).authenticateUser(socketId, user)),
    },
  });
  await untilState(client, "connected");
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      if (client.connection.state === "disconnected") return;
      const disconnected = untilState(client, "disconnected");
      client.disconnect();
      await disconnected;
    },
  });
}

/** Resolves once the server has closed `client`'s connection and pusher-js has given up on
 * it ("disconnected", as for Pusher's 4000-4099). pusher-js then closes its already closed
 * WebSocket again, which starts a 30 s timer nothing ends: cleared here, so that the test
 * leaks nothing. */
export async function untilRefused(client: PusherJs): Promise<void> {
  const socket = (client.connection as unknown as {
    connection?: { transport?: { socket?: { _closeTimer?: ReturnType<typeof setTimeout> } } };
  }).connection?.transport?.socket;
  await untilState(client, "disconnected");
  clearTimeout(socket?._closeTimer);
}

/** Resolves once `client`'s connection is in `state`. */
export function untilState(client: PusherJs, state: string): Promise<void> {
  if (client.connection.state === state) return Promise.resolve();
  return withTimeout(
    new Promise<void>((resolve) => {
      const listener = ({ current }: { current: string }) => {
        if (current !== state) return;
        client.connection.unbind("state_change", listener);
        resolve();
      };
      client.connection.bind("state_change", listener);
    }),
    `pusher-js to be ${state}`,
  );
}

/** Resolves with the data of the next `event` on `channel`'s binding. */
export function nextEvent(
  channel: {
    bind(event: string, callback: (data: unknown) => void): unknown;
    unbind(event: string, callback: (data: unknown) => void): unknown;
  },
  event: string,
): Promise<unknown> {
  return withTimeout(
    new Promise((resolve) => {
      const callback = (data: unknown) => {
        channel.unbind(event, callback);
        resolve(data);
      };
      channel.bind(event, callback);
    }),
    `${event}`,
  );
}
