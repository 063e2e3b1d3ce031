/**
 * @module
 * The history part of `deno task bench` (`--only history`, `--history-only`): Boreas with
 * `--history-size 100` against the same server with history off, started side by side in each
 * run and driven the same way as the fan-out part. Measures server CPU per delivered message at
 * 1,000 subscribers, POST /broadcast/ to a channel nobody joined, and the server's RSS growth
 * after filling 1,000 channels × 100 messages through the API (fresh servers); adds the heap
 * bytes per kept message of `history_memory.ts`. Renders its table, verdicts and notes as
 * Markdown lines for the report; prints nothing but the progress lines it hands to `log`.
 */

import { LoadProcess, ServerProcess, spawn } from "./processes.ts";
import { rssBytes } from "./proc.ts";
import { type Columns, formatNumber, median, Results, type RowSpec } from "./report.ts";
import {
  type BenchOptions,
  CHANNEL,
  fanoutWindow,
  httpRun,
  type Log,
  prime,
  record,
  type Sides,
} from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

/** `--history-size` of the history side. */
export const HISTORY_SIZE = 100;
/** Subscribers of the one channel in the fan-out windows. */
export const HISTORY_SUBSCRIBERS = 1_000;
/** Channels the memory figure fills with `HISTORY_SIZE` messages each. */
export const FILL_CHANNELS = 1_000;

const FILL_CONNECTIONS = 50;
const SETTLE_MS = 1_000;
const JSON_HEADERS = { "content-type": "application/json" };
/** Pads `{"t":NNNNNN,"p":"…"}` to 100 bytes of JSON text, as kept. */
const PAD = "x".repeat(81);

/** Which server a figure is of: `--history-size 100`, or history off. */
export type HistorySide = "hist-on" | "hist-off";

/** Each side's flags, added to the benchmark's. */
export const HISTORY_ARGS: Readonly<Record<HistorySide, readonly string[]>> = {
  "hist-on": ["--history-size", String(HISTORY_SIZE)],
  "hist-off": [],
};
/** History on, judged against history off. */
export const HISTORY_COLUMNS: Columns<HistorySide> = {
  subject: "hist-on",
  reference: "hist-off",
  labels: { "hist-on": "history on", "hist-off": "history off" },
};

/** Runs the history scenarios `runs` times (the memory fill `memoryRuns` times) and resolves to
 * the report's lines. `options.httpSeconds` 0 skips the HTTP figure. */
export async function measureHistory(
  options: BenchOptions,
  { runs, memoryRuns, log }: { runs: number; memoryRuns: number; log: Log },
): Promise<string[]> {
  const results = new Results(HISTORY_COLUMNS);
  for (let run = 0; run < runs; run++) await historyRun(run, options, { results, log });
  for (let run = 0; run < memoryRuns; run++) await memoryRun(run, options, { results, log });
  const { markdown, verdicts } = results.table(historyRows(options));
  const notes = memoryRuns > 0 ? await memoryNotes(results, log) : [];
  return [
    `History: Boreas with --history-size ${HISTORY_SIZE} against Boreas with history off, ` +
    `${runs} runs (memory: ${memoryRuns}), medians; ${formatNumber(HISTORY_SUBSCRIBERS, 0)} ` +
    "subscribers of one channel; POST /broadcast/ to a channel nobody joined; memory: fresh " +
    `servers, growth over the second of two fills of ${formatNumber(FILL_CHANNELS, 0)} ` +
    `channels × ${HISTORY_SIZE} messages of 100 bytes through the API.`,
    "",
    markdown,
    "",
    ...notes,
    "Targets:",
    ...verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: history on / history off = ` +
      `${formatNumber(verdict.ratio, 2)} (target ≤ ${verdict.target.value.toFixed(2)})`
    ),
  ];
}

function historyRows(options: BenchOptions): RowSpec[] {
  const subs = `${formatNumber(HISTORY_SUBSCRIBERS, 0)} subscribers`;
  const atRate = `at ${formatNumber(options.rate, 0)} deliveries/s`;
  const cpu = (mode: "rate" | "saturate", where: string): RowSpec => ({
    key: `${mode}.${HISTORY_SUBSCRIBERS}.cpu`,
    label: `server CPU per delivered msg ${where}, ${subs} (µs)`,
    digits: 2,
    target: { kind: "max-ratio", value: 1.1 },
  });
  return [
    cpu("rate", atRate),
    cpu("saturate", "at saturation"),
    {
      key: `rate.${HISTORY_SUBSCRIBERS}.p99`,
      label: `p99 latency ${atRate}, ${subs} (ms)`,
      digits: 2,
    },
    {
      key: `saturate.${HISTORY_SUBSCRIBERS}.rate`,
      label: `delivered msg/s at saturation, ${subs}`,
      digits: 0,
    },
    ...options.httpSeconds <= 0 ? [] : [{
      key: "http.rps",
      label: "POST /broadcast/ with no subscribers, one core, keep-alive (req/s)",
      digits: 0,
    }],
  ];
}

/** Both servers' fan-out windows and HTTP load for run `run`, the order alternating. */
async function historyRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<HistorySide>; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(HISTORY_SUBSCRIBERS));
  const sides: Sides<HistorySide> = new Map();
  for (const side of historyRunOrder(run)) {
    const placement = {
      ...options.serverPlacement,
      tokensUrl: tokens.url,
      args: HISTORY_ARGS[side],
    };
    const server = stack.use(await ServerProcess.start("boreas", placement));
    const load = stack.use(LoadProcess.start(options.loadPlacement));
    sides.set(side, { server, load });
    await load.send({ op: "tokens", url: tokens.url });
    const count = HISTORY_SUBSCRIBERS;
    await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
  }
  await prime(options, sides);
  for (const mode of ["rate", "saturate"] as const) {
    for (const [kind, side] of sides) {
      const result = await fanoutWindow(options, { ...side, mode });
      record({ results, log }, { kind, run, mode, subscribers: HISTORY_SUBSCRIBERS, result });
    }
  }
  if (options.httpSeconds > 0) await httpRun(run, options, { sides, results, log });
}

/** Each side's RSS and heap growth per message over the second of two fills, on a fresh
 * server: the first fill (other channels) grows what the traffic itself costs (the young
 * generation, HTTP buffers, allocator arenas: tens of MiB, with history off too), so that the
 * second one's growth is mostly what the kept messages cost. */
async function memoryRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results<HistorySide>; log: Log },
): Promise<void> {
  for (const side of historyRunOrder(run)) {
    await using tokens = TokenServer.start(0);
    const placement = {
      ...options.serverPlacement,
      tokensUrl: tokens.url,
      args: HISTORY_ARGS[side],
    };
    await using server = await ServerProcess.start("boreas", placement);
    await fill(server.apiUrl, "warm");
    await sleep(SETTLE_MS);
    const before = await memory(server);
    const messages = await fill(server.apiUrl, "fill");
    await sleep(SETTLE_MS);
    const after = await memory(server);
    const rss = (after.rss - before.rss) / messages;
    const heap = (after.heap - before.heap) / messages;
    results.add(side, "memory.rss", run, rss);
    results.add(side, "memory.heap", run, heap);
    log(
      `run ${run + 1} ${side.padEnd(8)} ${messages} more messages posted: RSS ` +
        `${mib(before.rss)} → ${mib(after.rss)} MiB, ${formatNumber(rss, 0)} bytes each; heap ` +
        `${mib(before.heap)} → ${mib(after.heap)} MiB, ${formatNumber(heap, 0)} bytes each`,
    );
  }
}

/** `server`'s RSS (`/proc`) and V8 heap in use (`GET /stats`, garbage included), in bytes. */
async function memory(server: ServerProcess): Promise<{ rss: number; heap: number }> {
  const stats = await (await fetch(`${server.apiUrl}/stats`)).json();
  return { rss: await rssBytes(server.pid), heap: stats.memory.heap_used_bytes };
}

/** Posts `HISTORY_SIZE` 100-byte payloads to each of `FILL_CHANNELS` channels named
 * `${prefix}-N`, round-robin over the channels, from this process over `FILL_CONNECTIONS`
 * keep-alive connections; resolves to the messages posted. Throws on any answer but 200. */
async function fill(apiUrl: string, prefix: string): Promise<number> {
  const total = FILL_CHANNELS * HISTORY_SIZE;
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const url = `${apiUrl}/broadcast/${prefix}-${i % FILL_CHANNELS}/`;
      const body = `{"dryrun": false, "payload": {"t":${100_000 + i},"p":"${PAD}"}}`;
      const response = await fetch(url, { method: "POST", headers: JSON_HEADERS, body });
      await response.body?.cancel();
      if (response.status !== 200) throw new Error(`POST ${url}: ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: FILL_CONNECTIONS }, worker));
  return total;
}

/** Each side's RSS and heap growth per message, their differences, and the figure of
 * `history_memory.ts`. */
async function memoryNotes(results: Results<HistorySide>, log: Log): Promise<string[]> {
  const spread = (values: readonly number[]) => {
    const range = values.length < 2
      ? ""
      : ` (${formatNumber(Math.min(...values), 0)}–${formatNumber(Math.max(...values), 0)})`;
    return `${formatNumber(median(values), 0)}${range}`;
  };
  const figures = (what: string) =>
    `history on ${spread(results.values("hist-on", `memory.${what}`))}, off ` +
    `${spread(results.values("hist-off", `memory.${what}`))}, on − off ` +
    spread(results.perRun(`memory.${what}`, (on, off) => on - off));
  const heap = await heapPerMessage();
  log(`history_memory.ts: ${heap}`);
  return [
    "Growth per message over the second fill, in bytes (medians, with the runs' range): RSS " +
    `${figures("rss")}; V8 heap used (garbage included) ${figures("heap")}. After a full GC ` +
    `(\`deno run --v8-flags=--expose-gc bench/history_memory.ts\`): ${heap}.`,
    "",
  ];
}

/** Runs `history_memory.ts` and returns its figure, e.g. `208 bytes per kept message`. */
async function heapPerMessage(): Promise<string> {
  const argv = [Deno.execPath(), "run", "--v8-flags=--expose-gc", "bench/history_memory.ts"];
  const { success, stdout, stderr } = await spawn(argv, { stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(success ? stdout : stderr);
  const match = /(\d+) bytes per kept message/.exec(text);
  if (match === null) throw new Error(`bench/history_memory.ts: ${text.trim()}`);
  return match[0];
}

/** The sides in the order run `run` measures them: alternating between runs. */
export function historyRunOrder(run: number): HistorySide[] {
  return run % 2 === 0 ? ["hist-on", "hist-off"] : ["hist-off", "hist-on"];
}

function mib(bytes: number): string {
  return formatNumber(bytes / 1024 / 1024, 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
