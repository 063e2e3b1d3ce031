// deno-lint-ignore-file no-console
/**
 * @module
 * `deno task bench`: measures Boreas against a minimal Deno broadcast server
 * (`baseline_server.ts`) in the same run, and prints a Markdown table of medians and
 * Boreas / baseline ratios, with the targets of docs/benchmarks.md. Progress goes to stderr,
 * the report to stdout. Servers run on core 0 and the load generator (`load.ts`, its own
 * process) on core 1 where `taskset` exists; every child gets `ulimit -n 65536` (or the hard
 * limit). Linux only: CPU time and RSS come from `/proc`.
 *
 * `--quick` finishes in under two minutes; `--cpu-prof DIR` profiles Boreas alone under the
 * saturated fan-out instead; `--cluster-only` measures only two cluster nodes on Redis against
 * a standalone Boreas (`cluster_measure.ts`); `--history-only` measures only Boreas with
 * `--history-size 100` against Boreas with history off, standalone (`history.ts`) and as two
 * cluster nodes on Redis (`history_cluster.ts`); `--auth-only` measures
 * only a reconnect storm with opaque tokens against JWTs, and the fan-out with grants and webhooks
 * on against off (`auth.ts`); `--pusher-only` measures only Pusher subscribers against native
 * ones (`pusher.ts`). `--help` lists the options.
 */

import { parseArgs } from "node:util";
import { numberReader, WINDOW_OPTIONS } from "./args.ts";
import { measureAuth } from "./auth.ts";
import { measureCluster } from "./cluster_measure.ts";
import { measureHistory } from "./history.ts";
import { measureHistoryCluster } from "./history_cluster.ts";
import { measurePusher } from "./pusher.ts";
import { type CpuProfile, renderProfile, summarizeProfile } from "./profile.ts";
import { hasCommand, type Placement } from "./processes.ts";
import { cpuModel } from "./proc.ts";
import {
  describeTarget,
  formatNumber,
  Results,
  type RowSpec,
  SERVER_COLUMNS,
  type Verdict,
} from "./report.ts";
import {
  type BenchOptions,
  fanoutRun,
  idleRun,
  profileRun,
  SATURATED_CORE_SHARE,
} from "./scenarios.ts";

const HELP = `Usage: deno task bench [options]

  --quick                  3 short runs, one idle-RSS run: under two minutes
  --subscribers LIST       subscriber counts, comma-separated (default 100,1000)
  --idle-connections N     idle authenticated connections for the RSS figure (default 10000;
                           0 skips it)
  --runs N                 fan-out and HTTP runs; medians are reported (default 6, quick 3)
  --idle-runs N            idle-RSS runs (default 3, quick 1)
  --duration SECONDS       length of each measured window (default 5, quick 1.5)
  --warmup SECONDS         publishing before each window (default 1, quick 0.5)
  --rate N                 deliveries a second in the fixed-rate windows (default 20000)
  --inflight N             broadcasts outstanding at saturation (default 4)
  --http-seconds N         length of the POST /broadcast/ load (default 5, quick 2; 0 skips)
  --only LIST              measure only some of fanout, http, idle, cluster, history,
                           history-cluster, auth, pusher (comma-separated)
  --cluster-only           the same as --only cluster: two nodes on the benchmark's own
                           redis-server against standalone Boreas
  --history-only           the same as --only history,history-cluster: --history-size 100
                           against history off (standalone: fan-out at 1,000 subscribers,
                           POST /broadcast/, memory per kept message, --idle-runs memory
                           runs; cluster: two nodes on the benchmark's own redis-server,
                           fan-out at 1,000 subscribers)
  --auth-only              the same as --only auth: a reconnect storm of 2,000 connections
                           with opaque tokens, JWT HS256 and JWT ES256, then the fan-out at
                           1,000 subscribers with grants and webhooks on against off
  --pusher-only            the same as --only pusher: Pusher subscribers (a public channel,
                           signed POST /apps/{id}/events) against native ones, each on its
                           own Boreas: fan-out at each --subscribers count, and RSS per
                           idle subscriber (--idle-connections, --idle-runs)
  --no-pin                 do not pin processes to cores with taskset
  --cpu-prof DIR           instead of measuring, profile Boreas twice: under the saturated
                           fan-out with the most subscribers, and under the POST /broadcast/
                           load; write the .cpuprofile files under DIR and list their top
                           functions
  -h, --help               show this help`;

const MAX_OPEN_FILES = 65_536;
const SCENARIOS = [
  "fanout",
  "http",
  "idle",
  "cluster",
  "history",
  "history-cluster",
  "auth",
  "pusher",
] as const;
const PROFILED = {
  fanout: "Boreas under the saturated fan-out",
  http: "Boreas under POST /broadcast/ to a channel with no subscribers",
} as const;

interface Settings {
  readonly mode: "quick" | "full";
  readonly runs: number;
  readonly idleRuns: number;
  readonly cpuProfDir: string | undefined;
  readonly isPinned: boolean;
  readonly hasCluster: boolean;
  readonly hasHistory: boolean;
  readonly hasHistoryCluster: boolean;
  readonly hasAuth: boolean;
  readonly hasPusher: boolean;
  /** `--subscribers` and `--idle-connections`, whether or not `fanout` and `idle` are
   * measured: the Pusher part's. */
  readonly pusherSubscribers: readonly number[];
  readonly pusherIdleConnections: number;
  /** `--http-seconds`, whether or not `http` is measured: the history part's HTTP load. */
  readonly httpSeconds: number;
  readonly options: Omit<BenchOptions, "serverPlacement" | "loadPlacement">;
}

function parseSettings(args: string[]): Settings | "help" {
  const { values } = parseArgs({
    args,
    options: {
      ...WINDOW_OPTIONS,
      "http-seconds": { type: "string" },
      only: { type: "string" },
      "cluster-only": { type: "boolean" },
      "history-only": { type: "boolean" },
      "auth-only": { type: "boolean" },
      "pusher-only": { type: "boolean" },
      "cpu-prof": { type: "string" },
    },
  });
  if (values.help) return "help";
  const isQuick = values.quick === true;
  const number = numberReader(values);
  const subscribers = (values.subscribers ?? "100,1000").split(",").map(Number);
  if (subscribers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`--subscribers: expected counts ≥ 1, got "${values.subscribers}"`);
  }
  const onlyList = values["cluster-only"]
    ? "cluster"
    : values["history-only"]
    ? "history,history-cluster"
    : values["auth-only"]
    ? "auth"
    : values["pusher-only"]
    ? "pusher"
    : values.only ?? SCENARIOS.join(",");
  const only = new Set(onlyList.split(","));
  const unknown = [...only].filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new RangeError(`--only: expected some of ${SCENARIOS.join(", ")}, got "${unknown}"`);
  }
  return {
    mode: isQuick ? "quick" : "full",
    runs: Math.max(1, number("runs", 3, 6)),
    idleRuns: number("idle-runs", 1, 3),
    cpuProfDir: values["cpu-prof"],
    isPinned: values["no-pin"] !== true,
    hasCluster: only.has("cluster"),
    hasHistory: only.has("history"),
    hasHistoryCluster: only.has("history-cluster"),
    hasAuth: only.has("auth"),
    hasPusher: only.has("pusher"),
    httpSeconds: number("http-seconds", 2, 5),
    pusherSubscribers: [...new Set(subscribers)].sort((a, b) => a - b),
    pusherIdleConnections: number("idle-connections", 10_000, 10_000),
    options: {
      subscribers: only.has("fanout") ? [...new Set(subscribers)].sort((a, b) => a - b) : [],
      rate: number("rate", 20_000, 20_000),
      inflight: Math.max(1, number("inflight", 4, 4)),
      warmupMs: number("warmup", 0.5, 1) * 1000,
      durationMs: number("duration", 1.5, 5) * 1000,
      idleConnections: only.has("idle") ? number("idle-connections", 10_000, 10_000) : 0,
      httpSeconds: only.has("http") ? number("http-seconds", 2, 5) : 0,
    },
  };
}

/** The table's rows, with the targets of docs/benchmarks.md. */
function rows(
  { subscribers, rate, idleConnections, httpSeconds }: Settings["options"],
): RowSpec[] {
  const atRate = `at ${formatNumber(rate, 0)} deliveries/s`;
  const perSubscribers = subscribers.flatMap((n): RowSpec[] => {
    const subs = `${formatNumber(n, 0)} subscribers`;
    return [
      { key: `saturate.${n}.rate`, label: `delivered msg/s at saturation, ${subs}`, digits: 0 },
      { key: `rate.${n}.p50`, label: `p50 latency ${atRate}, ${subs} (ms)`, digits: 2 },
      {
        key: `rate.${n}.p99`,
        label: `p99 latency ${atRate}, ${subs} (ms)`,
        digits: 2,
        target: { kind: "max-ratio", value: 1.2 },
      },
      { key: `saturate.${n}.p50`, label: `p50 latency at saturation, ${subs} (ms)`, digits: 2 },
      { key: `saturate.${n}.p99`, label: `p99 latency at saturation, ${subs} (ms)`, digits: 2 },
      {
        key: `saturate.${n}.cpu`,
        label: `server CPU per delivered msg at saturation, ${subs} (µs)`,
        digits: 2,
        target: { kind: "max-ratio", value: 1.15 },
      },
      {
        key: `rate.${n}.cpu`,
        label: `server CPU per delivered msg ${atRate}, ${subs} (µs)`,
        digits: 2,
        target: { kind: "max-ratio", value: 1.15 },
      },
      { key: `saturate.${n}.core`, label: `server core use at saturation, ${subs} (%)`, digits: 0 },
    ];
  });
  const idle: RowSpec[] = idleConnections <= 0 ? [] : [{
    key: "idle.rss",
    label: `RSS per idle authenticated connection, ${formatNumber(idleConnections, 0)} ` +
      "connections (KiB)",
    digits: 2,
    target: { kind: "max-ratio", value: 1.25 },
  }];
  const http: RowSpec[] = httpSeconds <= 0 ? [] : [{
    key: "http.rps",
    label: "POST /broadcast/ with no subscribers, one core, keep-alive (req/s)",
    digits: 0,
    target: { kind: "min-boreas", value: 15_000 },
  }];
  return [...perSubscribers, ...idle, ...http];
}

async function header(settings: Settings, hasTaskset: boolean): Promise<string> {
  const { options } = settings;
  const pinning = hasTaskset
    ? "servers pinned to core 0, load generator and wrk to core 1 (taskset)"
    : "not pinned (no taskset)";
  return [
    `Boreas benchmark, ${settings.mode} mode: ${settings.runs} fan-out/HTTP runs and ` +
    `${settings.idleRuns} idle-RSS runs, medians; ${options.durationMs / 1000} s windows after ` +
    `${
      options.warmupMs / 1000
    } s of warm-up; ${options.inflight} broadcasts in flight at saturation.`,
    `Machine: ${navigator.hardwareConcurrency} cores, ${await cpuModel()}, Deno ${Deno.version.deno} ` +
    `(V8 ${Deno.version.v8}); ${pinning}; children run with ulimit -n ${MAX_OPEN_FILES}.`,
    `HTTP load: ${await hasCommand("wrk") ? "wrk" : "Deno fetch loops (wrk not installed)"}.`,
  ].join("\n");
}

function verdictLines(verdicts: readonly Verdict[]): string[] {
  return verdicts.map((verdict) => {
    const figure = verdict.target.kind === "max-ratio"
      ? `Boreas / baseline = ${formatNumber(verdict.ratio, 2)}`
      : `Boreas = ${formatNumber(verdict.boreas, 0)}`;
    return `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: ${figure} ` +
      `(target ${describeTarget(verdict.target)})`;
  });
}

async function newestProfile(dir: string): Promise<string> {
  let newest: { path: string; time: number } | undefined;
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.endsWith(".cpuprofile")) continue;
    const path = `${dir}/${entry.name}`;
    const time = (await Deno.stat(path)).mtime?.getTime() ?? 0;
    if (newest === undefined || time > newest.time) newest = { path, time };
  }
  if (newest === undefined) throw new Error(`${dir}: no .cpuprofile file`);
  return newest.path;
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
  const options: BenchOptions = {
    ...settings.options,
    serverPlacement: place(0),
    loadPlacement: place(1),
  };
  if (settings.cpuProfDir !== undefined) await profile(options, settings.cpuProfDir);
  else await measure(settings, { options, hasTaskset });
  return 0;
}

/** Profiles Boreas under each load and prints each profile's top functions. */
async function profile(options: BenchOptions, cpuProfDir: string): Promise<void> {
  for (const load of ["fanout", "http"] as const) {
    const dir = `${cpuProfDir}/${load}`;
    await profileRun(options, { dir, load, log });
    const path = await newestProfile(dir);
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    console.log(`\n${PROFILED[load]}: ${path}\n`);
    console.log(renderProfile(summarizeProfile(profile, 20)));
  }
}

/** Runs every measurement and prints the report. */
async function measure(
  settings: Settings,
  { options, hasTaskset }: { options: BenchOptions; hasTaskset: boolean },
): Promise<void> {
  const started = performance.now();
  console.log(await header(settings, hasTaskset));
  const results = new Results(SERVER_COLUMNS);
  for (let run = 0; run < settings.runs; run++) {
    await fanoutRun(run, options, { results, log });
  }
  if (options.idleConnections > 0) {
    for (let run = 0; run < settings.idleRuns; run++) {
      await idleRun(run, options, { results, log });
    }
  }
  const tableRows = rows(settings.options);
  if (tableRows.length > 0) printTable(results, tableRows);
  if (settings.hasCluster) {
    console.log(`\n${(await measureCluster(options, { runs: settings.runs, log })).join("\n")}`);
  }
  if (settings.hasHistory) {
    const history = await measureHistory({ ...options, httpSeconds: settings.httpSeconds }, {
      runs: settings.runs,
      memoryRuns: settings.idleRuns,
      log,
    });
    console.log(`\n${history.join("\n")}`);
  }
  if (settings.hasHistoryCluster) {
    const history = await measureHistoryCluster(options, { runs: settings.runs, log });
    console.log(`\n${history.join("\n")}`);
  }
  if (settings.hasAuth) {
    console.log(`\n${(await measureAuth(options, { runs: settings.runs, log })).join("\n")}`);
  }
  if (settings.hasPusher) {
    const pusher = await measurePusher({
      ...options,
      subscribers: settings.pusherSubscribers,
      idleConnections: settings.pusherIdleConnections,
    }, { runs: settings.runs, idleRuns: settings.idleRuns, log });
    console.log(`\n${pusher.join("\n")}`);
  }
  console.log(`\nTook ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

function printTable(results: Results, tableRows: readonly RowSpec[]): void {
  const { markdown, verdicts } = results.table(tableRows);
  console.log(`\n${markdown}\n`);
  console.log(
    "Figures are medians over the runs; the ratio is the median of the per-run ratios, with " +
      "their range.",
  );
  console.log(
    `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least one ` +
      "run: the figure is a lower bound for that server.\n",
  );
  console.log(["Targets:", ...verdictLines(verdicts)].join("\n"));
}

function log(line: string): void {
  console.error(line);
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
