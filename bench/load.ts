/**
 * @module
 * The load generator, run by `bench/main.ts` as its own process (pinned to its own core): it
 * holds the subscribers, publishes through the HTTP API and measures deliveries, latency and
 * CPU time at the edges of each window. It obeys the JSON-lines commands of `ipc.ts` on stdin
 * and answers each on stdout.
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
import { cpuSeconds } from "./proc.ts";
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
        await this.#pool.open(command.wsUrl, { tokens, channel: command.channel });
        break;
      }
      case "disconnect":
        await this.#pool.closeAll();
        break;
      case "fanout":
        return { ...await fanout(this.#pool, command) };
      case "http":
        return { ...await httpLoad(command) };
      case "exit":
        break;
    }
    return { ms: performance.now() - started };
  }
}

/** One fan-out window: publishes in the command's mode until the window has passed, then
 * lets the outstanding deliveries arrive. */
async function fanout(pool: SubscriberPool, command: FanoutCommand): Promise<FanoutResult> {
  const subscribers = pool.size;
  if (subscribers === 0) throw new RangeError("fanout: no subscribers");
  const url = `${command.apiUrl}/broadcast/${encodeURIComponent(command.channel)}/`;
  let expected = pool.received;
  let requestsInFlight = 0;
  let failedPublishes = 0;
  let isStopped = false;

  const publish = async () => {
    const body = `{"dryrun": false, "payload": {"t":${performance.now().toFixed(3)},"p":"${PAD}"}}`;
    expected += subscribers;
    requestsInFlight++;
    let recipients = 0;
    try {
      const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body });
      const text = await response.text();
      if (response.status === 200) recipients = JSON.parse(text).recipients;
    } catch {
      // Counted below: a failed publish delivers nothing.
    }
    if (recipients !== subscribers) failedPublishes++;
    expected += recipients - subscribers;
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
  pool.latency.reset();
  pool.isMeasuring = true;
  const before = await snapshot(pool, command.serverPid);
  await sleep(command.durationMs);
  const after = await snapshot(pool, command.serverPid);
  pool.isMeasuring = false;
  isStopped = true;
  await loop;
  while (requestsInFlight > 0) await sleep(1);
  await pool.untilReceived(expected, STALL_MS);
  return {
    deliveries: after.received - before.received,
    seconds: (after.at - before.at) / 1000,
    p50Ms: pool.latency.percentile(0.5),
    p99Ms: pool.latency.percentile(0.99),
    serverCpuSeconds: after.serverCpu - before.serverCpu,
    loadCpuSeconds: after.loadCpu - before.loadCpu,
    failedPublishes,
  };
}

async function snapshot(pool: SubscriberPool, serverPid: number) {
  const [serverCpu = NaN, loadCpu = NaN] = await cpuSeconds([serverPid, Deno.pid]);
  return { received: pool.received, at: performance.now(), serverCpu, loadCpu };
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

async function main(): Promise<void> {
  const generator = new LoadGenerator();
  const writer = Deno.stdout.writable.getWriter();
  for await (const line of readLines(Deno.stdin.readable)) {
    const command = JSON.parse(line) as Command;
    try {
      await writeLine(writer, { ok: true, ...await generator.run(command) });
    } catch (error) {
      await writeLine(writer, { ok: false, error: String(error) });
    }
    if (command.op === "exit") break;
  }
  Deno.exit(0);
}

if (import.meta.main) await main();
