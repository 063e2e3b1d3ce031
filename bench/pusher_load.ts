/**
 * @module
 * The Pusher load generator of the Pusher part of `deno task bench` (`pusher.ts`): `load.ts`'s
 * commands and publishing loop, but its subscribers are Pusher connections
 * (`/app/{key}?protocol=7`, `pusher:subscribe` to a public channel) and it publishes through
 * Pusher's REST API, each `POST /apps/{id}/events` signed as the SDKs sign it. `connect`'s
 * `wsUrl` names the WebSocket listener; `tokens` is ignored (an app's signatures stand for
 * them).
 *
 * Run: `deno run --allow-net=127.0.0.1 --allow-run=cat bench/pusher_load.ts` (then write
 * commands to it, as to `load.ts`).
 */

import { createHash, createHmac } from "node:crypto";
import type { Command, FanoutCommand, FanoutResult } from "./ipc.ts";
import { serveCommands, snapshot } from "./load.ts";
import { httpPublish, type PublishRequest, publishWindow } from "./publishing.ts";
import { SubscriberPool } from "./subscribers.ts";

/** The app both sides of the benchmark declare (`--pusher-app`). */
export const BENCH_APP = { id: "1001", key: "bench-key", secret: "bench-secret" } as const;
/** The event name of every publication. */
const EVENT = "tick";
const CONNECT_TIMEOUT_MS = 10_000;

/** Pusher subscribers, counted and timed as `SubscriberPool` counts native frames: a frame's
 * `data` is the payload as a JSON string, so its publish time follows `\"t\":`. */
export class PusherPool extends SubscriberPool {
  protected override readonly latencyKey = '\\"t\\":';
  readonly #sockets: WebSocket[] = [];

  override get size(): number {
    return this.#sockets.length;
  }

  /** Opens `count` connections to the app on `wsUrl`, at most `concurrency` at a time, each
   * subscribed to `channel`; resolves once every subscription succeeded. */
  async openPusher(
    wsUrl: string,
    { count, channel, concurrency = 64 }: { count: number; channel: string; concurrency?: number },
  ): Promise<void> {
    const url = new URL(`/app/${BENCH_APP.key}?protocol=7&client=bench`, wsUrl).href;
    let opened = 0;
    const worker = async () => {
      while (opened < count) {
        opened++;
        const socket = await openPusherSubscriber(url, channel);
        socket.addEventListener("message", this);
        this.#sockets.push(socket);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  override async closeAll(): Promise<void> {
    const sockets = this.#sockets.splice(0);
    await Promise.all(sockets.map((socket) =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.addEventListener("close", () => resolve(), { once: true });
        socket.close(1000, "done");
      })
    ));
  }
}

/** Opens one connection to `url` and subscribes to `channel`; resolves once subscribed. */
function openPusherSubscriber(url: string, channel: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  return new Promise((resolve, reject) => {
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.close();
      reject(new Error(`Pusher subscriber to ${url}: ${reason}`));
    };
    const timer = setTimeout(() => fail("no subscription in time"), CONNECT_TIMEOUT_MS);
    socket.onmessage = (event) => {
      const { event: name } = JSON.parse(event.data);
      if (name === "pusher:connection_established") {
        socket.send(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
      } else if (name === "pusher_internal:subscription_succeeded") {
        clearTimeout(timer);
        socket.onmessage = socket.onerror = socket.onclose = null;
        resolve(socket);
      } else fail(`answered ${event.data}`);
    };
    socket.onerror = () => fail("WebSocket error");
    socket.onclose = (event) => fail(`closed with ${event.code} ${event.reason}`);
  });
}

/** `POST /apps/{id}/events` of `payload` (as the event's data string) on `channel`, signed. */
export function pusherEventRequest(
  apiUrl: string,
  channel: string,
  payload: string,
): PublishRequest {
  const body = JSON.stringify({ name: EVENT, channel, data: payload });
  const path = `/apps/${BENCH_APP.id}/events`;
  const query = [
    `auth_key=${BENCH_APP.key}`,
    `auth_timestamp=${Math.floor(Date.now() / 1000)}`,
    "auth_version=1.0",
    `body_md5=${createHash("md5").update(body).digest("hex")}`,
  ].join("&");
  const signature = createHmac("sha256", BENCH_APP.secret)
    .update(`POST\n${path}\n${query}`)
    .digest("hex");
  return [`${apiUrl}${path}?${query}&auth_signature=${signature}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  }];
}

/** One fan-out window over the Pusher subscribers: every answered publish brings one frame
 * to each (Pusher's answer does not count them). */
async function pusherFanout(pool: PusherPool, command: FanoutCommand): Promise<FanoutResult> {
  let failedPublishes = 0;
  const { before, after } = await publishWindow(pool, command, {
    deliveriesOf: (answer) => {
      if (answer !== undefined) return pool.size;
      failedPublishes++;
      return 0;
    },
    snapshot: () => snapshot(pool, [command.serverPid]),
    publish: httpPublish(command.apiUrl, pusherEventRequest),
  });
  return {
    deliveries: after.received - before.received,
    seconds: (after.at - before.at) / 1000,
    p50Ms: pool.latency.percentile(0.5),
    p99Ms: pool.latency.percentile(0.99),
    serverCpuSeconds: after.serverCpu[0]! - before.serverCpu[0]!,
    loadCpuSeconds: after.loadCpu - before.loadCpu,
    failedPublishes,
    extraCpuSeconds: [],
  };
}

if (import.meta.main) {
  const pool = new PusherPool();
  await serveCommands(async (command: Command): Promise<Record<string, unknown>> => {
    switch (command.op) {
      case "tokens":
      case "exit":
        return {};
      case "connect":
        await pool.openPusher(command.wsUrl, { count: command.count, channel: command.channel });
        return {};
      case "disconnect":
        await pool.closeAll();
        return {};
      case "fanout":
        return { ...await pusherFanout(pool, command) };
      default:
        throw new RangeError(`${command.op}: not supported by the Pusher load generator`);
    }
  });
}
