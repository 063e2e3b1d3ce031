/**
 * @module
 * The Pusher part of `deno task bench` (`--only pusher`, `--pusher-only`): what a Pusher
 * subscriber costs Boreas against a native one, as ratios Pusher / native taken within one run.
 * Each run starts two Boreas servers side by side, both declaring the same Pusher app, each with
 * its own load generator: `load.ts` (native subscribers, `POST /broadcast/`) or `pusher_load.ts`
 * (Pusher subscribers of a public channel, signed `POST /apps/{id}/events`). Both get the same
 * subscriber counts and fan-out windows (`scenarios.ts`: an unmeasured primer, then a fixed rate
 * and saturation), the order alternating between runs. Then, on fresh servers, the RSS per idle
 * subscriber. Renders its table, verdicts and notes as Markdown lines; prints nothing but the
 * progress lines it hands to `log`.
 */

import { LoadProcess, ServerProcess } from "./processes.ts";
import { rssBytes } from "./proc.ts";
import { BENCH_APP } from "./pusher_load.ts";
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

/** Which protocol a side's subscribers speak. */
type Protocol = "pusher" | "native";
const COLUMNS: Columns<Protocol> = {
  subject: "pusher",
  reference: "native",
  labels: { pusher: "Pusher", native: "native" },
};
const BENCH_DIR = new URL(".", import.meta.url);
/** What follows `deno run` for each protocol's load generator. */
const LOAD_PROGRAMS: Readonly<Record<Protocol, readonly string[]>> = {
  native: ["--allow-net=127.0.0.1", "--allow-run=cat", new URL("load.ts", BENCH_DIR).pathname],
  pusher: [
    "--allow-net=127.0.0.1",
    "--allow-run=cat",
    new URL("pusher_load.ts", BENCH_DIR).pathname,
  ],
};
/** Both servers declare the app, so that they differ only in their subscribers. */
const APP_ARGS = ["--pusher-app", `${BENCH_APP.id}:${BENCH_APP.key}:${BENCH_APP.secret}`];
const SETTLE_MS = 1_000;

/** Runs the fan-out `runs` times and the idle memory `idleRuns` times; resolves to the
 * report's lines. */
export async function measurePusher(
  options: BenchOptions,
  { runs, idleRuns, log }: { runs: number; idleRuns: number; log: Log },
): Promise<string[]> {
  const results = new Results(COLUMNS);
  for (let run = 0; run < runs; run++) await fanoutRun(run, options, { results, log });
  if (options.idleConnections > 0) {
    for (let run = 0; run < idleRuns; run++) await idleRun(run, options, { results, log });
  }
  const { markdown, verdicts } = results.table(rows(options));
  return [
    "Pusher against native subscribers of one Boreas channel, each side on its own server " +
    `declaring the same app: ${runs} fan-out runs, ${idleRuns} idle runs, medians; the Pusher ` +
    "side publishes with signed POST /apps/{id}/events, the native side with POST /broadcast/.",
    "",
    markdown,
    "",
    "The ratio is the median of the per-run ratios Pusher / native, with their range.",
    `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least one ` +
    "run: the figure is a lower bound for that side.",
    "",
    "Targets:",
    ...verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: Pusher / native = ` +
      `${formatNumber(verdict.ratio, 2)} (target ≤ ${verdict.target.value.toFixed(2)})`
    ),
  ];
}

/** The sides in the order run `run` measures them: alternating between runs. */
function runOrder(run: number): Protocol[] {
  return run % 2 === 0 ? ["pusher", "native"] : ["native", "pusher"];
}

/** Starts a Boreas with its load generator for `protocol`. */
async function startSide(
  stack: AsyncDisposableStack,
  { protocol, tokensUrl, options }: {
    protocol: Protocol;
    tokensUrl: string;
    options: BenchOptions;
  },
): Promise<{ server: ServerProcess; load: LoadProcess }> {
  const placement = { ...options.serverPlacement, tokensUrl, args: APP_ARGS };
  const server = stack.use(await ServerProcess.start("boreas", placement));
  const load = stack.use(LoadProcess.start(options.loadPlacement, LOAD_PROGRAMS[protocol]));
  await load.send({ op: "tokens", url: tokensUrl });
  return { server, load };
}

/** Both protocols' fan-out windows for run `run`, at each subscriber count. */
async function fanoutRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<Protocol>; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(Math.max(0, ...options.subscribers)));
  const sides: Sides<Protocol> = new Map();
  for (const protocol of runOrder(run)) {
    sides.set(protocol, await startSide(stack, { protocol, tokensUrl: tokens.url, options }));
  }
  let connected = 0;
  for (const subscribers of options.subscribers) {
    for (const { server, load } of sides.values()) {
      const count = subscribers - connected;
      await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
    }
    if (connected === 0) await prime(options, sides);
    connected = subscribers;
    for (const mode of ["rate", "saturate"] as const) {
      for (const [protocol, side] of sides) {
        const result = await fanoutWindow(options, { ...side, mode });
        record({ results, log }, { kind: protocol, run, mode, subscribers, result });
      }
    }
  }
}

/** Each protocol's RSS growth per idle subscriber of one channel, on a fresh server: RSS 1 s
 * after startup and 1 s after the last subscriber connected. */
async function idleRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<Protocol>; log: Log },
): Promise<void> {
  const count = options.idleConnections;
  for (const protocol of runOrder(run)) {
    await using stack = new AsyncDisposableStack();
    const tokens = stack.use(TokenServer.start(count));
    const { server, load } = await startSide(stack, { protocol, tokensUrl: tokens.url, options });
    await sleep(SETTLE_MS);
    const before = await rssBytes(server.pid);
    await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
    await sleep(SETTLE_MS);
    const after = await rssBytes(server.pid);
    const perConnection = (after - before) / count / 1024;
    results.add(protocol, "idle.rss", run, perConnection);
    log(
      `run ${run + 1} ${protocol.padEnd(6)} ${count} idle subscribers: RSS ` +
        `${mib(before)} → ${mib(after)} MiB, ${formatNumber(perConnection, 2)} KiB each`,
    );
  }
}

function rows({ subscribers, rate, idleConnections }: BenchOptions): RowSpec[] {
  const atRate = `at ${formatNumber(rate, 0)} deliveries/s`;
  const target = { kind: "max-ratio", value: 1.1 } as const;
  const perSubscribers = subscribers.flatMap((n): RowSpec[] => {
    const subs = `${formatNumber(n, 0)} subscribers`;
    return [
      {
        key: `rate.${n}.cpu`,
        label: `server CPU per delivered msg ${atRate}, ${subs} (µs)`,
        digits: 2,
        target,
      },
      {
        key: `saturate.${n}.cpu`,
        label: `server CPU per delivered msg at saturation, ${subs} (µs)`,
        digits: 2,
        target,
      },
      { key: `rate.${n}.p50`, label: `p50 latency ${atRate}, ${subs} (ms)`, digits: 2 },
      { key: `rate.${n}.p99`, label: `p99 latency ${atRate}, ${subs} (ms)`, digits: 2 },
      { key: `saturate.${n}.rate`, label: `delivered msg/s at saturation, ${subs}`, digits: 0 },
    ];
  });
  const idle: RowSpec[] = idleConnections <= 0 ? [] : [{
    key: "idle.rss",
    label: `RSS per idle subscriber, ${formatNumber(idleConnections, 0)} subscribers (KiB)`,
    digits: 2,
    target,
  }];
  return [...perSubscribers, ...idle];
}

function mib(bytes: number): string {
  return formatNumber(bytes / 1024 / 1024, 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
