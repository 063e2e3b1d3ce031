// deno-lint-ignore-file no-console
/**
 * @module
 * `deno task bench:transports`: what a Server-Sent Events subscriber costs Boreas against a
 * WebSocket subscriber, as ratios SSE / WebSocket taken within one run. Each run starts two
 * Boreas servers side by side with the benchmark's flags (`processes.ts`), one per transport,
 * each with its own load generator: `load.ts` (WebSockets) or `sse_load.ts` (`GET /events`
 * streams read with `fetch`). Both get the same subscribers of one channel and the same fan-out
 * windows (`scenarios.ts`: an unmeasured primer, then a fixed rate and saturation), the order
 * alternating between runs. Then, on fresh servers, the RSS (and V8 heap) and server CPU per idle
 * subscriber.
 * Progress goes to stderr, the report (Markdown) to stdout. Linux only (`/proc`).
 */

import { parseArgs } from "node:util";
import { numberReader, WINDOW_OPTIONS } from "./args.ts";
import { hasCommand, LoadProcess, type Placement, ServerProcess } from "./processes.ts";
import { cpuModel, cpuSeconds, rssBytes } from "./proc.ts";
import { type Columns, formatNumber, Results, type RowSpec } from "./report.ts";
import {
  type BenchOptions,
  CHANNEL,
  fanoutWindow,
  type Log,
  prime,
  record,
  SATURATED_CORE_SHARE,
  type Sides,
} from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

const HELP = `Usage: deno task bench:transports [options]

  --quick                  3 short runs, one idle run of 2,000 subscribers: about a minute
  --subscribers N          subscribers of the one channel in the fan-out (default 1000)
  --idle-connections N     idle subscribers for the RSS figure (default 10000; 0 skips it)
  --runs N                 fan-out runs; medians are reported (default 5, quick 3)
  --idle-runs N            idle runs (default 3, quick 1)
  --duration SECONDS       length of each measured window (default 5, quick 1.5)
  --warmup SECONDS         publishing before each window (default 1, quick 0.5)
  --rate N                 deliveries a second in the fixed-rate window (default 20000)
  --inflight N             broadcasts outstanding at saturation (default 4)
  --no-pin                 do not pin processes to cores with taskset
  -h, --help               show this help`;

const MAX_OPEN_FILES = 65_536;
const SETTLE_MS = 1_000;
const BENCH_DIR = new URL(".", import.meta.url);

/** Which transport a side's subscribers use. */
type Transport = "sse" | "ws";
const COLUMNS: Columns<Transport> = {
  subject: "sse",
  reference: "ws",
  labels: { sse: "SSE", ws: "WebSocket" },
};
/** What follows `deno run` for each transport's load generator. */
const LOAD_PROGRAMS: Readonly<Record<Transport, readonly string[]>> = {
  ws: ["--allow-net=127.0.0.1", "--allow-run=cat", new URL("load.ts", BENCH_DIR).pathname],
  sse: ["--allow-net=127.0.0.1", "--allow-run=cat", new URL("sse_load.ts", BENCH_DIR).pathname],
};

interface Settings {
  readonly runs: number;
  readonly idleRuns: number;
  readonly isPinned: boolean;
  readonly options: Omit<BenchOptions, "serverPlacement" | "loadPlacement">;
}

function parseSettings(args: string[]): Settings | "help" {
  const { values } = parseArgs({
    args,
    options: {
      ...WINDOW_OPTIONS,
    },
  });
  if (values.help) return "help";
  const number = numberReader(values);
  return {
    runs: Math.max(1, number("runs", 3, 5)),
    idleRuns: number("idle-runs", 1, 3),
    isPinned: values["no-pin"] !== true,
    options: {
      subscribers: [Math.max(1, Math.round(number("subscribers", 1_000, 1_000)))],
      rate: number("rate", 20_000, 20_000),
      inflight: Math.max(1, number("inflight", 4, 4)),
      warmupMs: number("warmup", 0.5, 1) * 1000,
      durationMs: number("duration", 1.5, 5) * 1000,
      idleConnections: Math.round(number("idle-connections", 2_000, 10_000)),
      httpSeconds: 0,
    },
  };
}

/** The sides in the order run `run` measures them: alternating between runs. */
function runOrder(run: number): Transport[] {
  return run % 2 === 0 ? ["sse", "ws"] : ["ws", "sse"];
}

/** Starts a Boreas with its load generator for `transport` and its subscribers. */
async function startSide(
  stack: AsyncDisposableStack,
  { transport, tokensUrl, options }: {
    transport: Transport;
    tokensUrl: string;
    options: BenchOptions;
  },
): Promise<{ server: ServerProcess; load: LoadProcess }> {
  const placement = { ...options.serverPlacement, tokensUrl };
  const server = stack.use(await ServerProcess.start("boreas", placement));
  const load = stack.use(LoadProcess.start(options.loadPlacement, LOAD_PROGRAMS[transport]));
  await load.send({ op: "tokens", url: tokensUrl });
  return { server, load };
}

/** Both transports' fan-out windows for run `run`, each on its own server. */
async function fanoutRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<Transport>; log: Log },
): Promise<void> {
  const subscribers = options.subscribers[0]!;
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(subscribers));
  const sides: Sides<Transport> = new Map();
  for (const transport of runOrder(run)) {
    const side = await startSide(stack, { transport, tokensUrl: tokens.url, options });
    const { wsUrl } = side.server;
    await side.load.send({ op: "connect", wsUrl, channel: CHANNEL, count: subscribers });
    sides.set(transport, side);
  }
  await prime(options, sides);
  for (const mode of ["rate", "saturate"] as const) {
    for (const [transport, side] of sides) {
      const result = await fanoutWindow(options, { ...side, mode });
      record({ results, log }, { kind: transport, run, mode, subscribers, result });
    }
  }
}

/** Each transport's RSS growth and server CPU per idle subscriber, on a fresh server: RSS 1 s
 * after startup and 1 s after the last subscriber connected; CPU over the `connect`. */
async function idleRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<Transport>; log: Log },
): Promise<void> {
  const count = options.idleConnections;
  for (const transport of runOrder(run)) {
    await using stack = new AsyncDisposableStack();
    const tokens = stack.use(TokenServer.start(count));
    const { server, load } = await startSide(stack, { transport, tokensUrl: tokens.url, options });
    await sleep(SETTLE_MS);
    const before = { ...await memory(server), cpu: (await cpuSeconds([server.pid]))[0]! };
    await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
    const cpu = (await cpuSeconds([server.pid]))[0]! - before.cpu;
    await sleep(SETTLE_MS);
    const after = await memory(server);
    const rss = (after.rss - before.rss) / count / 1024;
    const heap = (after.heap - before.heap) / count / 1024;
    results.add(transport, "idle.rss", run, rss);
    results.add(transport, "idle.heap", run, heap);
    results.add(transport, "idle.cpu", run, cpu / count * 1e6);
    log(
      `run ${run + 1} ${transport.padEnd(3)} ${count} idle subscribers: RSS ` +
        `${mib(before.rss)} → ${mib(after.rss)} MiB, ${formatNumber(rss, 2)} KiB each ` +
        `(V8 heap ${formatNumber(heap, 2)}); ${formatNumber(cpu / count * 1e6, 0)} µs server ` +
        "CPU each to connect",
    );
  }
}

/** `server`'s RSS (`/proc`) and V8 heap in use (`GET /stats`, garbage included), in bytes. */
async function memory(server: ServerProcess): Promise<{ rss: number; heap: number }> {
  const stats = await (await fetch(`${server.apiUrl}/stats`)).json();
  return { rss: await rssBytes(server.pid), heap: stats.memory.heap_used_bytes };
}

function rows({ subscribers, rate, idleConnections }: Settings["options"]): RowSpec[] {
  const n = subscribers[0]!;
  const subs = `${formatNumber(n, 0)} subscribers`;
  const atRate = `at ${formatNumber(rate, 0)} deliveries/s`;
  const idle = `${formatNumber(idleConnections, 0)} idle subscribers`;
  return [
    { key: `rate.${n}.cpu`, label: `server CPU per delivered msg ${atRate}, ${subs} (µs)` },
    { key: `saturate.${n}.cpu`, label: `server CPU per delivered msg at saturation (µs)` },
    { key: `rate.${n}.p50`, label: `p50 latency ${atRate} (ms)` },
    { key: `rate.${n}.p99`, label: `p99 latency ${atRate} (ms)` },
    { key: `saturate.${n}.p50`, label: "p50 latency at saturation (ms)" },
    { key: `saturate.${n}.p99`, label: "p99 latency at saturation (ms)" },
    { key: `saturate.${n}.rate`, label: "delivered msg/s at saturation", digits: 0 },
    { key: `saturate.${n}.core`, label: "server core use at saturation (%)", digits: 0 },
    ...idleConnections <= 0 ? [] : [
      { key: "idle.rss", label: `RSS per idle subscriber, ${idle} (KiB)` },
      { key: "idle.heap", label: "of which V8 heap used, garbage included (KiB)" },
      { key: "idle.cpu", label: `server CPU per subscriber connecting, ${idle} (µs)`, digits: 0 },
    ],
  ].map((row) => ({ digits: 2, ...row }));
}

async function main(args: string[]): Promise<number> {
  const settings = parseSettings(args);
  if (settings === "help") {
    console.log(HELP);
    return 0;
  }
  const hasTaskset = settings.isPinned && await hasCommand("taskset");
  const place = (core: number): Placement => ({
    core: hasTaskset ? core : null,
    maxOpenFiles: MAX_OPEN_FILES,
  });
  const options = { ...settings.options, serverPlacement: place(0), loadPlacement: place(1) };
  const started = performance.now();
  const results = new Results(COLUMNS);
  for (let run = 0; run < settings.runs; run++) await fanoutRun(run, options, { results, log });
  if (options.idleConnections > 0) {
    for (let run = 0; run < settings.idleRuns; run++) await idleRun(run, options, { results, log });
  }
  const pinning = hasTaskset ? "servers on core 0, load generators on core 1" : "not pinned";
  console.log(
    `SSE against WebSocket subscribers of one Boreas channel: ${settings.runs} fan-out runs, ` +
      `${settings.idleRuns} idle runs, medians; ${options.durationMs / 1000} s windows after ` +
      `${options.warmupMs / 1000} s; ${options.inflight} broadcasts in flight at saturation.\n` +
      `Machine: ${navigator.hardwareConcurrency} cores, ${await cpuModel()}, Deno ` +
      `${Deno.version.deno}; ${pinning}.\n`,
  );
  console.log(results.table(rows(settings.options)).markdown);
  console.log(
    "\nThe ratio is the median of the per-run ratios SSE / WebSocket, with their range.\n" +
      `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least ` +
      "one run: the figure is a lower bound for that transport.",
  );
  console.log(`\nTook ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  return 0;
}

function log(line: string): void {
  console.error(line);
}

function mib(bytes: number): string {
  return formatNumber(bytes / 1024 / 1024, 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`bench:transports: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
