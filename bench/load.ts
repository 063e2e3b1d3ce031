/**
 * @module
 * The load generator, run by `bench/main.ts` as its own process (pinned to its own core): it
 * holds the subscribers, publishes through the HTTP API and measures deliveries, latency and
 * CPU time at the edges of each window. It obeys the JSON-lines commands of `ipc.ts` on stdin
 * and answers each on stdout. `workers_probe.ts` runs its own load generator on the same
 * publishing loop (`publishWindow`) and command loop (`serveCommands`).
 *
 * Run: `deno run --allow-net --allow-run=cat bench/load.ts` (then write commands to it).
 */

import {
  type Command,
  type FanoutCommand,
  type FanoutResult,
  type HttpCommand,
  type HttpResult,
  readLines,
  writeLine,
} from "./ipc.ts";
import { churnWindow } from "./churn.ts";
import { cpuSeconds } from "./proc.ts";
import { stormWindow } from "./storm.ts";
import { SubscriberPool } from "./subscribers.ts";

/** Payload padding: `{"t":NNNNNN.NNN,"p":"…"}` comes to about 100 bytes. */
const PAD = "x".repeat(78);
const JSON_HEADERS = { "content-type": "application/json" };
const STALL_MS = 5_000;

/** The load generator's state between commands. */
class LoadGenerator {
  readonly #pool = new SubscriberPool();
  #tokens: string[] = [];

  /** Runs one command; returns what to reply. */
  async run(command: Command): Promise<Record<string, unknown>> {
    const started = performance.now();
    switch (command.op) {
      case "tokens": {
        const response = await fetch(command.url);
        this.#tokens = await response.json();
        break;
      }
      case "connect": {
        const from = this.#pool.size;
        const tokens = this.#tokens.slice(from, from + command.count);
        if (tokens.length < command.count) {
          throw new RangeError(`connect: ${command.count} subscribers but too few tokens`);
        }
        const channels = command.channels ?? [command.channel];
        await this.#pool.open(command.wsUrl, { tokens, channels });
        break;
      }
      case "disconnect":
        await this.#pool.closeAll();
        break;
      case "fanout":
        return { ...await fanout(this.#pool, command) };
      case "http":
        return { ...await httpLoad(command) };
      case "churn":
        return { churn: await churnWindow(command, this.#tokens) };
      case "storm":
        return { storm: await stormWindow(command) };
      case "exit":
        break;
    }
    return { ms: performance.now() - started };
  }
}

/** A broadcast POST's JSON answer: `recipients`, and whatever else the server adds. */
export interface BroadcastAnswer {
  readonly recipients: number;
  readonly [key: string]: unknown;
}

/** One fan-out window: publishes in the command's mode until the window has passed, then
 * lets the outstanding deliveries arrive. `sse_load.ts` runs it on its SSE subscribers. */
export async function fanout(pool: SubscriberPool, command: FanoutCommand): Promise<FanoutResult> {
  let failedPublishes = 0;
  const perPublish = command.recipients ?? pool.size;
  const extraPids = command.extraPids ?? [];
  const { before, after } = await publishWindow(pool, command, {
    deliveriesOf: (answer) => {
      const recipients = answer?.recipients ?? 0;
      if (recipients !== perPublish) failedPublishes++;
      return recipients;
    },
    snapshot: () => snapshot(pool, [command.serverPid, ...extraPids]),
  });
  return {
    deliveries: after.received - before.received,
    seconds: (after.at - before.at) / 1000,
    p50Ms: pool.latency.percentile(0.5),
    p99Ms: pool.latency.percentile(0.99),
    serverCpuSeconds: after.serverCpu[0]! - before.serverCpu[0]!,
    loadCpuSeconds: after.loadCpu - before.loadCpu,
    failedPublishes,
    extraCpuSeconds: extraPids.map((_, i) => after.serverCpu[i + 1]! - before.serverCpu[i + 1]!),
  };
}

/** Publishes ~100-byte payloads to `command.channel` (or to each of `command.channels` in
 * turn, each broadcast bringing `command.recipients` frames) in the command's mode; after
 * `command.warmupMs` forgets the latencies so far and measures for `command.durationMs`,
 * taking `snapshot()` at both edges; then stops and lets the outstanding deliveries arrive.
 * `deliveriesOf` tells, from each POST's answer (undefined when the POST failed), how many
 * frames it brings. */
export async function publishWindow<Snapshot>(
  pool: SubscriberPool,
  command: FanoutCommand,
  { deliveriesOf, snapshot, request = broadcastRequest }: {
    deliveriesOf: (answer: BroadcastAnswer | undefined) => number;
    snapshot: () => Promise<Snapshot>;
    /** The POST that publishes `payload` (JSON text) to `channel`; default: the native
     * `POST /broadcast/`. */
    request?: (apiUrl: string, channel: string, payload: string) => PublishRequest;
  },
): Promise<{ before: Snapshot; after: Snapshot }> {
  if (pool.size === 0) throw new RangeError("fanout: no subscribers");
  // Named `subscribers` for the one-channel case: the frames one broadcast brings.
  const subscribers = command.recipients ?? pool.size;
  const channels = command.channels ?? [command.channel];
  let published = 0;
  let expected = pool.received;
  let requestsInFlight = 0;
  let isStopped = false;

  const publish = async () => {
    const payload = `{"t":${performance.now().toFixed(3)},"p":"${PAD}"}`;
    const channel = channels[published++ % channels.length]!;
    expected += subscribers;
    requestsInFlight++;
    let answer: BroadcastAnswer | undefined;
    try {
      const [url, init] = request(command.apiUrl, channel, payload);
      const response = await fetch(url, init);
      const text = await response.text();
      if (response.status === 200) answer = JSON.parse(text);
    } catch {
      // A failed publish: `deliveriesOf` gets no answer.
    }
    expected += deliveriesOf(answer) - subscribers;
    requestsInFlight--;
    pool.nudge();
  };

  const rateLoop = async () => {
    const perMs = command.deliveriesPerSecond / subscribers / 1000;
    const start = performance.now();
    let sent = 0;
    while (!isStopped) {
      const due = Math.floor((performance.now() - start) * perMs) + 1;
      for (; sent < due; sent++) void publish();
      await sleep(Math.max(0, sent / perMs - (performance.now() - start)));
    }
  };

  const saturateLoop = async () => {
    const window = command.inflight * subscribers;
    while (!isStopped) {
      const isRequestSlotFree = requestsInFlight < command.inflight;
      if (isRequestSlotFree && expected - pool.received + subscribers <= window) {
        void publish();
        continue;
      }
      // Wait for enough deliveries, or (nudged) for a request to finish.
      const target = isRequestSlotFree ? expected + subscribers - window : Infinity;
      if (!await pool.untilReceived(target, STALL_MS)) throw new Error("fanout: stalled");
    }
  };

  const loop = command.mode === "rate" ? rateLoop() : saturateLoop();
  await sleep(command.warmupMs);
  pool.resetLatency();
  pool.isMeasuring = true;
  const before = await snapshot();
  await sleep(command.durationMs);
  const after = await snapshot();
  pool.isMeasuring = false;
  isStopped = true;
  await loop;
  while (requestsInFlight > 0) await sleep(1);
  await pool.untilReceived(expected, STALL_MS);
  return { before, after };
}

/** A publishing POST: its URL and `fetch` options. */
export type PublishRequest = readonly [url: string, init: RequestInit];

/** `POST /broadcast/{channel}/` of `payload`. */
function broadcastRequest(apiUrl: string, channel: string, payload: string): PublishRequest {
  return [`${apiUrl}/broadcast/${encodeURIComponent(channel)}/`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: `{"dryrun": false, "payload": ${payload}}`,
  }];
}

/** What `snapshot()` reads: deliveries, when (ms), and CPU seconds of the servers and the load. */
export interface LoadSnapshot {
  readonly received: number;
  readonly at: number;
  readonly serverCpu: number[];
  readonly loadCpu: number;
}

/** The deliveries so far, the time, and the CPU seconds of `serverPids` and of this process. */
export async function snapshot(
  pool: SubscriberPool,
  serverPids: readonly number[],
): Promise<LoadSnapshot> {
  const times = await cpuSeconds([...serverPids, Deno.pid]);
  const loadCpu = times.pop() ?? NaN;
  return { received: pool.received, at: performance.now(), serverCpu: times, loadCpu };
}

/** Keep-alive HTTP load without a dedicated tool: `connections` loops of one request at a time. */
async function httpLoad(command: HttpCommand): Promise<HttpResult> {
  const started = performance.now();
  const end = started + command.durationMs;
  let requests = 0;
  let failed = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const response = await fetch(command.url, {
        method: "POST",
        headers: JSON_HEADERS,
        body: command.body,
      });
      await response.body?.cancel();
      if (response.status === 200) requests++;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: command.connections }, worker));
  return { requests, failed, seconds: (performance.now() - started) / 1000 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Obeys one JSON command a line on stdin with `run`, answers each with one JSON line on
 * stdout (`{ ok: true, ...result }` or `{ ok: false, error }`), and exits after `exit`. */
export async function serveCommands<C extends { readonly op: string }>(
  run: (command: C) => Promise<Record<string, unknown>>,
): Promise<void> {
  const writer = Deno.stdout.writable.getWriter();
  for await (const line of readLines(Deno.stdin.readable)) {
    const command = JSON.parse(line) as C;
    try {
      await writeLine(writer, { ok: true, ...await run(command) });
    } catch (error) {
      await writeLine(writer, { ok: false, error: String(error) });
    }
    if (command.op === "exit") break;
  }
  Deno.exit(0);
}

if (import.meta.main) {
  const generator = new LoadGenerator();
  await serveCommands((command: Command) => generator.run(command));
}
