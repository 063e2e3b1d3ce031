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
 * ones (`pusher.ts`); `--chat-only` measures only chat rooms: HTTP broadcasts against the
 * baseline, and client publications against HTTP broadcasts, standalone (`chat.ts`) and on two
 * cluster nodes (`chat_cluster.ts`); `--redis-cluster-only` measures only Redis Cluster
 * (`redis_cluster.ts`, `pubsub_shards.ts`); `--only cluster-floor` (never measured unless
 * named) measures two nodes against standalone for Boreas and for the baseline server in one
 * run (`cluster_floor.ts`). `--help` lists the options (`settings.ts`).
 */

import { measureAuth } from "./auth.ts";
import { type ChatOptions, chatResults, measureChat, profileChat, VIAS } from "./chat.ts";
import { measureChatCluster } from "./chat_cluster.ts";
import { renderChat } from "./chat_report.ts";
import { measureClusterFloor } from "./cluster_floor.ts";
import { measureCluster } from "./cluster_measure.ts";
import { measureHistory } from "./history.ts";
import { measureHistoryCluster } from "./history_cluster.ts";
import { measurePubsubShards } from "./pubsub_shards.ts";
import { measurePusher } from "./pusher.ts";
import { type CpuProfile, newestProfile, renderProfile, summarizeProfile } from "./profile.ts";
import { hasCommand, type Placement } from "./processes.ts";
import { cpuModel } from "./proc.ts";
import { measureRedisCluster } from "./redis_cluster.ts";
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
  type Log,
  profileRun,
  SATURATED_CORE_SHARE,
} from "./scenarios.ts";
import { HELP, parseSettings, type PartOptions, type Settings } from "./settings.ts";

const MAX_OPEN_FILES = 65_536;
const PROFILED = {
  fanout: "Boreas under the saturated fan-out",
  http: "Boreas under POST /broadcast/ to a channel with no subscribers",
} as const;
const VIA_NAMES = { http: "HTTP broadcasts", client: "client publications" } as const;

/** A part of the report that takes the benchmark's options and run count, and returns its
 * lines. */
type Part = (options: PartOptions, context: { runs: number; log: Log }) => Promise<string[]>;

/** One profiled load: its directory's name, what it is, and how to run it. */
interface ProfileJob {
  readonly name: string;
  readonly label: string;
  readonly run: (dir: string) => Promise<void>;
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
  const placements = { serverPlacement: place(0), loadPlacement: place(1) };
  const options: PartOptions = { ...settings.options, ...placements };
  const chat: ChatOptions = { ...settings.chat, ...placements };
  if (settings.cpuProfDir !== undefined) {
    // The chat loads when the chat part is measured and the fan-out is not (--chat-only).
    const isChat = settings.hasChat && options.subscribers.length === 0;
    await profile({ options, chat, isChat }, settings.cpuProfDir);
  } else {
    await measure(settings, { options, chat, hasTaskset });
  }
  return 0;
}

/** Profiles Boreas under each load (the fan-out's and the HTTP one, or the chat's two) and
 * prints each profile's top functions. */
async function profile(
  { options, chat, isChat }: { options: BenchOptions; chat: ChatOptions; isChat: boolean },
  cpuProfDir: string,
): Promise<void> {
  const jobs: ProfileJob[] = isChat
    ? VIAS.flatMap((via) =>
      (["boreas", "baseline"] as const).map((kind) => ({
        name: `chat-${via}-${kind}`,
        label: `${kind} under saturated ${VIA_NAMES[via]} to random chat rooms`,
        run: (dir: string) => profileChat(chat, { dir, kind, via, log }),
      }))
    )
    : (["fanout", "http"] as const).map((load) => ({
      name: load,
      label: PROFILED[load],
      run: (dir: string) => profileRun(options, { dir, load, log }),
    }));
  for (const job of jobs) {
    const dir = `${cpuProfDir}/${job.name}`;
    await job.run(dir);
    const path = await newestProfile(dir);
    const profile = JSON.parse(await Deno.readTextFile(path)) as CpuProfile;
    console.log(`\n${job.label}: ${path}\n`);
    console.log(renderProfile(summarizeProfile(profile, 20)));
  }
}

/** Runs every measurement and prints the report. */
async function measure(
  settings: Settings,
  { options, chat, hasTaskset }: { options: PartOptions; chat: ChatOptions; hasTaskset: boolean },
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
  const part = async (isMeasured: boolean, measurePart: Part) => {
    if (isMeasured) {
      console.log(`\n${(await measurePart(options, { runs: settings.runs, log })).join("\n")}`);
    }
  };
  await part(settings.hasCluster, measureCluster);
  if (settings.hasHistory) {
    const history = await measureHistory({ ...options, httpSeconds: settings.httpSeconds }, {
      runs: settings.runs,
      memoryRuns: settings.idleRuns,
      log,
    });
    console.log(`\n${history.join("\n")}`);
  }
  await part(settings.hasHistoryCluster, measureHistoryCluster);
  await part(settings.hasAuth, measureAuth);
  if (settings.hasPusher) {
    const pusher = await measurePusher({
      ...options,
      subscribers: settings.pusherSubscribers,
      idleConnections: settings.pusherIdleConnections,
    }, { runs: settings.runs, idleRuns: settings.idleRuns, log });
    console.log(`\n${pusher.join("\n")}`);
  }
  if (settings.hasChat || settings.hasChatCluster) await measureChatPart(settings, chat);
  await part(settings.hasRedisCluster, measureRedisCluster);
  await part(settings.hasPubsubShards, measurePubsubShards);
  await part(settings.hasClusterFloor, measureClusterFloor);
  console.log(`\nTook ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

/** The chat part: standalone, then on two cluster nodes; prints one report for both. */
async function measureChatPart(settings: Settings, options: ChatOptions): Promise<void> {
  const results = chatResults();
  const context = { runs: settings.runs, results, log };
  if (settings.hasChat) await measureChat(options, context);
  const hasCluster = settings.hasChatCluster && await measureChatCluster(options, context);
  if (settings.hasChatCluster && !hasCluster) {
    console.log(
      "\nChat rooms in cluster mode: skipped, `redis-server` and `redis-cli` are not both installed.",
    );
  }
  const lines = renderChat(results, {
    options,
    runs: settings.runs,
    hasStandalone: settings.hasChat,
    hasCluster,
  });
  console.log(`\n${lines.join("\n")}`);
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
