/**
 * @module
 * The load generator, run by `bench/main.ts` as its own process (pinned to its own core): it
 * holds the subscribers, publishes through the HTTP API (or, in the chat part, over its
 * subscribers' WebSockets) and measures deliveries, latency and CPU time at the edges of each
 * window. It obeys the JSON-lines commands of `ipc.ts` on stdin and answers each on stdout.
 * `workers_probe.ts` runs its own load generator on the same publishing loop (`publishWindow`
 * of `publishing.ts`) and command loop (`serveCommands`).
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
import { ChatPool } from "./chat_load.ts";
import { churnWindow } from "./churn.ts";
import { cpuSeconds } from "./proc.ts";
import { type Publish, publishWindow } from "./publishing.ts";
import { stormWindow } from "./storm.ts";
import type { SubscriberPool } from "./subscribers.ts";

const JSON_HEADERS = { "content-type": "application/json" };

/** The load generator's state between commands. */
class LoadGenerator {
  readonly #pool = new ChatPool();
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
      case "fanout": {
        const publish = command.via === "client"
          ? this.#pool.publisher({ withRef: command.withRef ?? true })
          : undefined;
        return { ...await fanout(this.#pool, command, publish) };
      }
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

/** One fan-out window: publishes in the command's mode until the window has passed, then
 * lets the outstanding deliveries arrive; with `publish`, publishes that way instead of with
 * `POST /broadcast/`. `sse_load.ts` runs it on its SSE subscribers. */
export async function fanout(
  pool: SubscriberPool,
  command: FanoutCommand,
  publish?: Publish,
): Promise<FanoutResult> {
  let failedPublishes = 0;
  const perPublish = command.recipients ?? pool.size;
  const extraPids = command.extraPids ?? [];
  const { before, after } = await publishWindow(pool, command, {
    deliveriesOf: (answer) => {
      // A client publication's reply says `ok`, not how many it reached.
      const recipients = answer?.recipients ?? (answer?.ok === true ? perPublish : 0);
      if (recipients !== perPublish) failedPublishes++;
      return recipients;
    },
    snapshot: () => snapshot(pool, [command.serverPid, ...extraPids]),
    ...(publish === undefined ? {} : { publish }),
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
