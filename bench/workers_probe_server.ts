// deno-lint-ignore-file no-console
/**
 * @module
 * The multi-worker variant of `baseline_server.ts`, for `workers_probe.ts`: a probe of what a
 * `--workers N` option would cost and give, not a Boreas feature. The main thread starts N Web
 * Workers; each one serves both ports itself with `Deno.serve({ reusePort: true })` (the first
 * binds ports 0 and the others bind the ports it got), so Linux spreads connections and
 * requests over the workers. A worker keeps its own sockets in a `Set`. A broadcast POST lands
 * on one worker, which posts the frame on a `BroadcastChannel` first, then sends it to its own
 * sockets; every other worker sends it to its own sockets when the relay arrives. With
 * `--recipients summed` (the default) the others answer with their counts over the channel and
 * the POST's `recipients` is the sum, as Boreas's answer would have to be; with `local` it is
 * the receiving worker's own count and nothing comes back.
 *
 * Like the baseline it checks no tokens, answers a client message carrying `ref` with
 * `{"ref": N, "ok": true, "worker": I}` (I: the worker that holds the socket), answers POSTs
 * with `{"recipients": N, "worker": I}`, and prints the endpoint lines and `Running...`.
 * Broadcast frames are the baseline's plus the receiving worker: `{"message": …, "channel": …,
 * "w": I}`. On stdin it obeys `stats` (prints one `STATS {json}` line: each worker's sockets,
 * broadcasts received over HTTP and over the channel, and the channel hop's latency) and
 * `reset` (zeroes those counters; prints `RESET`).
 *
 * `--relay-bench` serves nothing: it starts two workers, measures the cost of relaying one
 * ~130-byte frame from one to the other over a `BroadcastChannel` and over a `MessagePort`
 * (one at a time, as ping-pong, and as a stream), prints one `RELAY {json}` line and exits.
 *
 * `Deno.serve`'s `reusePort` is unstable in Deno 2.9: it needs `--unstable-net`. Run:
 * `deno run --unstable-net --allow-net --allow-read bench/workers_probe_server.ts --workers N
 * [--recipients summed|local] [--relay-bench]`.
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { messageRef } from "./baseline_server.ts";
import { LatencyHistogram } from "./histogram.ts";
import { readLines } from "./ipc.ts";

const HOSTNAME = "127.0.0.1";
const BROADCAST_PATH = /^\/broadcast\/([^/]+)\/?$/;
const CHANNEL_NAME = "boreas-workers-probe";
/** A broadcast frame of the size the probe sends (~100-byte payload, channel, worker). */
const SAMPLE_FRAME = `{"message": {"t":123456.789,"p":"${
  "x".repeat(78)
}"}, "channel": "bench", "w": 0}`;
const PING_PONGS = 20_000;
const STREAMED = 200_000;

/** How the POST answer's `recipients` is counted. */
export type RecipientsMode = "summed" | "local";

/** `value` of a `--recipients` option; throws unless it is a `RecipientsMode`. */
export function parseRecipients(value: string): RecipientsMode {
  if (value !== "summed" && value !== "local") {
    throw new RangeError("--recipients: expected summed or local");
  }
  return value;
}

/** What the main thread tells a worker to do first. */
type StartMessage =
  | {
    readonly op: "serve";
    readonly index: number;
    readonly workers: number;
    readonly wsPort: number;
    readonly apiPort: number;
    readonly recipients: RecipientsMode;
    readonly idleTimeout: number;
  }
  | { readonly op: "relay-bench"; readonly role: "ping" | "pong"; readonly port: MessagePort };

/** What the main thread asks a serving worker later. */
type ControlMessage = { readonly op: "stats" } | { readonly op: "reset" };

/** A serving worker's counters, as `stats` reports them. */
export interface WorkerStats {
  readonly index: number;
  /** Open WebSockets held by this worker. */
  readonly sockets: number;
  /** Broadcast POSTs this worker received. */
  readonly posts: number;
  /** Broadcasts this worker received over the channel from another worker. */
  readonly relayed: number;
  /** Frames this worker sent to its sockets. */
  readonly sends: number;
  /** Latency of the channel hop (post in the receiving worker to the relay's arrival here). */
  readonly hopP50Ms: number;
  readonly hopP99Ms: number;
  /** Time from posting a relay to having every other worker's count (`summed` only). */
  readonly gatherP50Ms: number;
  readonly gatherP99Ms: number;
}

/** What `--relay-bench` measured for one transport. */
export interface RelayFigures {
  readonly transport: "BroadcastChannel" | "MessagePort";
  /** Ping-pong: one frame each way at a time. Half a round trip, and process CPU per hop. */
  readonly hopMicros: number;
  readonly hopCpuMicros: number;
  /** Streaming: frames posted back to back; frames a second and process CPU per frame. */
  readonly streamPerSecond: number;
  readonly streamCpuMicros: number;
}

/** Messages between the two relay-bench workers and from them to the main thread. */
type RelayMessage =
  | { readonly kind: "ping"; readonly n: number }
  | { readonly kind: "stream"; readonly n: number; readonly frame: string }
  | { readonly kind: "done" };

/** Messages on the serving workers' `BroadcastChannel`. */
type ChannelMessage =
  | {
    readonly kind: "frame";
    readonly id: number;
    readonly origin: number;
    /** `epochNow()` when posted. */
    readonly at: number;
    readonly frame: string;
  }
  | { readonly kind: "count"; readonly id: number; readonly to: number; readonly count: number };

/** The part of a worker's global scope this file uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

/** A high-resolution clock shared by the threads of one process: each worker has its own
 * `performance.timeOrigin`, but origin plus `now()` is the same wall clock everywhere. */
function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------------------------------------
// Worker side.

function serveWorker(
  scope: WorkerScope,
  start: Extract<StartMessage, { op: "serve" }>,
): void {
  const { index, workers, recipients, idleTimeout } = start;
  const sockets = new Set<WebSocket>();
  const hop = new LatencyHistogram();
  const gather = new LatencyHistogram();
  let posts = 0;
  let relayed = 0;
  let sends = 0;
  let nextId = 0;
  /** Relays of this worker's broadcasts still waiting for other workers' counts. */
  const pending = new Map<number, { sum: number; left: number; at: number; done: () => void }>();
  const channel = workers > 1 ? new BroadcastChannel(CHANNEL_NAME) : null;

  const sendAll = (frame: string): number => {
    let count = 0;
    for (const socket of sockets) {
      socket.send(frame);
      count++;
    }
    sends += count;
    return count;
  };

  if (channel !== null) {
    channel.onmessage = (event: MessageEvent<ChannelMessage>) => {
      const message = event.data;
      if (message.kind === "frame") {
        hop.record(epochNow() - message.at);
        relayed++;
        const count = sendAll(message.frame);
        if (recipients === "summed") {
          const reply: ChannelMessage = {
            kind: "count",
            id: message.id,
            to: message.origin,
            count,
          };
          channel.postMessage(reply);
        }
        return;
      }
      if (message.to !== index) return;
      const waiting = pending.get(message.id);
      if (waiting === undefined) return;
      waiting.sum += message.count;
      if (--waiting.left === 0) {
        pending.delete(message.id);
        gather.record(epochNow() - waiting.at);
        waiting.done();
      }
    };
  }

  /** Relays `frame` to the other workers, sends it to this worker's sockets, and resolves to
   * the recipients count the POST answers with. */
  const broadcast = async (frame: string): Promise<number> => {
    posts++;
    if (channel === null) return sendAll(frame);
    const id = nextId++;
    const at = epochNow();
    // Post before sending: the other workers' sends then overlap this worker's.
    channel.postMessage({ kind: "frame", id, origin: index, at, frame } satisfies ChannelMessage);
    const local = sendAll(frame);
    if (recipients === "local") return local;
    const others = await new Promise<number>((resolve) => {
      const waiting = { sum: 0, left: workers - 1, at, done: () => resolve(waiting.sum) };
      pending.set(id, waiting);
    });
    return local + others;
  };

  const listen = (port: number) => ({ hostname: HOSTNAME, port, reusePort: true, onListen() {} });
  const ws = Deno.serve(listen(start.wsPort), (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout });
    socket.onopen = () => sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (event) => {
      const ref = messageRef(event.data);
      if (ref !== undefined) socket.send(`{"ref": ${ref}, "ok": true, "worker": ${index}}`);
    };
    return response;
  });
  const api = Deno.serve(listen(start.apiPort), async (request) => {
    const match = BROADCAST_PATH.exec(new URL(request.url).pathname);
    if (request.method !== "POST" || match === null) {
      return new Response('{"errors": ["not found"]}', { status: 404 });
    }
    const channelName = decodeURIComponent(match[1]!);
    const { payload } = await request.json();
    const frame = `{"message": ${JSON.stringify(payload)}, "channel": ${
      JSON.stringify(channelName)
    }, "w": ${index}}`;
    const recipientCount = await broadcast(frame);
    return new Response(`{"recipients": ${recipientCount}, "worker": ${index}}`, {
      headers: { "content-type": "application/json" },
    });
  });

  scope.onmessage = (event: MessageEvent<ControlMessage>) => {
    if (event.data.op === "reset") {
      posts = relayed = sends = 0;
      hop.reset();
      gather.reset();
      scope.postMessage({ op: "reset", index });
      return;
    }
    const stats: WorkerStats = {
      index,
      sockets: sockets.size,
      posts,
      relayed,
      sends,
      hopP50Ms: hop.percentile(0.5),
      hopP99Ms: hop.percentile(0.99),
      gatherP50Ms: gather.percentile(0.5),
      gatherP99Ms: gather.percentile(0.99),
    };
    scope.postMessage({ op: "stats", stats });
  };
  scope.postMessage({ op: "ready", index, wsPort: ws.addr.port, apiPort: api.addr.port });
}

/** One side of `--relay-bench`: "ping" drives, "pong" answers. Each phase runs over the
 * `BroadcastChannel` and then over the `MessagePort`, and the main thread times it. */
function relayBenchWorker(scope: WorkerScope, role: "ping" | "pong", port: MessagePort): void {
  const channel = new BroadcastChannel(`${CHANNEL_NAME}-bench`);
  const transports = [
    { name: "BroadcastChannel", post: (m: RelayMessage) => channel.postMessage(m), on: channel },
    { name: "MessagePort", post: (m: RelayMessage) => port.postMessage(m), on: port },
  ] as const;
  for (const transport of transports) {
    transport.on.onmessage = (event: MessageEvent<RelayMessage>) => {
      const message = event.data;
      if (role === "pong") {
        if (message.kind === "ping") transport.post(message);
        else if (message.kind === "stream" && message.n === STREAMED - 1) {
          transport.post({ kind: "done" });
        }
        return;
      }
      if (message.kind === "ping") {
        if (message.n + 1 < PING_PONGS) transport.post({ kind: "ping", n: message.n + 1 });
        else scope.postMessage({ op: "phase-done" });
      } else if (message.kind === "done") scope.postMessage({ op: "phase-done" });
    };
  }
  port.start();
  if (role === "pong") return;
  scope.onmessage = (event: MessageEvent<{ op: "phase"; transport: 0 | 1; phase: string }>) => {
    const transport = transports[event.data.transport];
    if (event.data.phase === "ping") transport.post({ kind: "ping", n: 0 });
    else {
      for (let n = 0; n < STREAMED; n++) transport.post({ kind: "stream", n, frame: SAMPLE_FRAME });
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Main thread side.

const WORKER_URL = new URL(import.meta.url);

function startWorker(name: string): Worker {
  return new Worker(WORKER_URL, { type: "module", name });
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data as T);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`worker: ${event.message}`));
    };
  });
}

/** Starts the serving workers one after the other (the first one picks the ports), prints the
 * endpoints, then answers `stats` and `reset` on stdin until SIGTERM or SIGINT. */
async function serve(
  { workers, recipients, idleTimeout }: {
    workers: number;
    recipients: RecipientsMode;
    idleTimeout: number;
  },
): Promise<void> {
  const started: Worker[] = [];
  let ports = { wsPort: 0, apiPort: 0 };
  for (let index = 0; index < workers; index++) {
    const worker = startWorker(`serve-${index}`);
    started.push(worker);
    const ready = nextMessage<{ wsPort: number; apiPort: number }>(worker);
    worker.postMessage(
      { op: "serve", index, workers, recipients, idleTimeout, ...ports } satisfies StartMessage,
    );
    const { wsPort, apiPort } = await ready;
    ports = { wsPort, apiPort };
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      for (const worker of started) worker.terminate();
      Deno.exit(0);
    });
  }
  console.log(`API endpoint configured to listen on ${HOSTNAME}:${ports.apiPort}`);
  console.log(`WebSocket endpoint configured to listen on ${HOSTNAME}:${ports.wsPort}`);
  console.log(`Workers: ${workers}, recipients ${recipients}`);
  console.log("Running...");

  for await (const line of readLines(Deno.stdin.readable)) {
    const op = line.trim();
    if (op !== "stats" && op !== "reset") continue;
    const replies = await Promise.all(started.map((worker) => {
      const reply = nextMessage<{ stats?: WorkerStats }>(worker);
      worker.postMessage({ op } satisfies ControlMessage);
      return reply;
    }));
    if (op === "reset") console.log("RESET");
    else console.log(`STATS ${JSON.stringify(replies.map((reply) => reply.stats))}`);
  }
}

/** `--relay-bench`: two workers, each transport in turn, ping-pong then streaming. */
async function relayBench(): Promise<RelayFigures[]> {
  const { port1, port2 } = new MessageChannel();
  const ping = startWorker("relay-ping");
  const pong = startWorker("relay-pong");
  const message = (role: "ping" | "pong", port: MessagePort): StartMessage => ({
    op: "relay-bench",
    role,
    port,
  });
  pong.postMessage(message("pong", port2), [port2]);
  ping.postMessage(message("ping", port1), [port1]);
  // Let both workers load and install their listeners.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const timed = async (transport: 0 | 1, phase: "ping" | "stream") => {
    const cpuBefore = cpuMicros();
    const before = performance.now();
    const done = nextMessage<unknown>(ping);
    ping.postMessage({ op: "phase", transport, phase });
    await done;
    return { micros: (performance.now() - before) * 1000, cpu: cpuMicros() - cpuBefore };
  };
  const figures: RelayFigures[] = [];
  for (const [transport, name] of [[0, "BroadcastChannel"], [1, "MessagePort"]] as const) {
    await timed(transport, "ping"); // warm-up
    const pings = await timed(transport, "ping");
    await timed(transport, "stream"); // warm-up
    const stream = await timed(transport, "stream");
    figures.push({
      transport: name,
      hopMicros: pings.micros / PING_PONGS / 2,
      hopCpuMicros: pings.cpu / PING_PONGS / 2,
      streamPerSecond: STREAMED / (stream.micros / 1e6),
      streamCpuMicros: stream.cpu / STREAMED,
    });
  }
  ping.terminate();
  pong.terminate();
  return figures;
}

/** User plus system CPU time of the whole process (all threads), in microseconds. */
function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      workers: { type: "string", default: "1" },
      recipients: { type: "string", default: "summed" },
      "ping-interval": { type: "string", default: "30" },
      "relay-bench": { type: "boolean" },
    },
  });
  if (values["relay-bench"]) {
    console.log(`RELAY ${JSON.stringify(await relayBench())}`);
    Deno.exit(0);
  }
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new RangeError("--workers: expected ≥ 1");
  const recipients = parseRecipients(values.recipients);
  await serve({ workers, recipients, idleTimeout: Number(values["ping-interval"]) });
}

// `import.meta.main` is true in a worker's own module as well: tell them apart by the scope.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (event: MessageEvent<StartMessage>) => {
    const start = event.data;
    if (start.op === "serve") serveWorker(scope, start);
    else relayBenchWorker(scope, start.role, start.port);
  };
} else if (import.meta.main) {
  await main(Deno.args);
}
