// deno-lint-ignore-file no-console
/**
 * @module
 * A measured probe for a `--workers N` option (not a Boreas feature): does running N Web
 * Workers in one Deno process, each serving the same ports with `Deno.serve({ reusePort:
 * true })` and relaying broadcasts to each other over a `BroadcastChannel`, make one machine's
 * cores deliver more? It runs `workers_probe_server.ts` (the baseline broadcast server spread
 * over N workers) once per worker count and reports, from one run:
 *
 * - how many subscribers each worker got, and how many broadcast POSTs;
 * - deliveries a second at saturation (closed loop), server CPU time per delivery (utime +
 *   stime of the whole server process, all threads, from `/proc`) and each server thread's
 *   share of a core, with the load generator's own share of a core (≥ 90%: the figure is a
 *   lower bound) and how busy the whole machine was;
 * - publish-to-receive latency at a fixed rate, split by subscribers held by the worker that
 *   received the POST ("local") and by another worker ("relayed"), and the channel hop's own
 *   latency as the server measures it;
 * - the relay's cost alone (`--relay-bench` of the server): one ~130-byte frame between two
 *   workers over a `BroadcastChannel` and over a `MessagePort`, one at a time and streamed.
 *
 * Each worker count runs pinned (server on core 0, load generator on core 1 with `taskset`:
 * N workers share one core, which measures the overhead alone) and unpinned (the workers may
 * use every core, but share them with the load generator). The load generator is this same
 * file run with `--role load`, its own process, driven like `bench/load.ts` (whose publishing
 * loop and subscribers it shares) over JSON lines on stdin/stdout. Linux only. Progress goes
 * to stderr, the tables (Markdown) to stdout.
 *
 * Run: `deno run --allow-net --allow-read --allow-run --allow-env --allow-sys
 * bench/workers_probe.ts [--workers-list 1,2] [--subscribers 1000] [--seconds 3] [--runs 3]`
 * (`--help` lists the rest). The server child runs with `--unstable-net`, which `reusePort`
 * needs in Deno 2.9.
 */

import { parseArgs } from "node:util";
import { LatencyHistogram } from "./histogram.ts";
import type {
  ConnectCommand,
  DisconnectCommand,
  ExitCommand,
  FanoutCommand,
  FanoutResult,
} from "./ipc.ts";
import { readLines } from "./ipc.ts";
import { serveCommands } from "./load.ts";
import { publishWindow } from "./publishing.ts";
import {
  hasCommand,
  LoadProcess,
  placed,
  type Placement,
  ServerProcess,
  spawn,
  terminate,
} from "./processes.ts";
import { CLOCK_TICKS_PER_SECOND, cpuModel, cpuSeconds, statCpuSeconds } from "./proc.ts";
import { formatNumber, median } from "./report.ts";
import { CHANNEL, PRIMER_EXTRA_MS, SATURATED_CORE_SHARE } from "./scenarios.ts";
import { SubscriberPool } from "./subscribers.ts";
import {
  parseRecipients,
  type RecipientsMode,
  type RelayFigures,
  type WorkerStats,
} from "./workers_probe_server.ts";

const HELP = `Usage: deno run --allow-net --allow-read --allow-run --allow-env --allow-sys \\
  bench/workers_probe.ts [options]

  --workers-list LIST   worker counts to measure, comma-separated (default 1,2)
  --subscribers N       subscribers, all on one channel (default 1000)
  --seconds N           length of each measured window (default 3)
  --warmup N            publishing before each window, in seconds (default 1)
  --runs N              runs of every placement and worker count; medians (default 3)
  --rate N              deliveries a second in the fixed-rate latency window (default 20000)
  --inflight N          broadcasts outstanding at saturation (default 4)
  --placements LIST     pinned, unpinned or both (default pinned,unpinned)
  --recipients MODE     summed: the POST answer sums every worker's recipients (a round over
                        the channel); local: the receiving worker's own only (default summed)
  --baseline            also measure bench/baseline_server.ts (no worker, main thread)
  --no-relay-bench      skip the relay-only measurement
  -h, --help            show this help`;

const MAX_OPEN_FILES = 65_536;
/** The worker that received the POST, at the end of each frame of the probe server. */
const ORIGIN_KEY = '"w": ';

// ---------------------------------------------------------------------------------------------
// Load generator (`--role load`): its commands and what it answers.

/** A fan-out window of the probe's load generator. */
interface ProbeFanoutCommand extends FanoutCommand {
  /** Whether each POST must answer with every subscriber as a recipient. */
  readonly checkRecipients: boolean;
}

/** Commands the orchestrator sends to the load generator, one JSON line each. `connect`
 * answers with `subscribersByWorker`. */
type LoadCommand = ConnectCommand | ProbeFanoutCommand | DisconnectCommand | ExitCommand;

/** What one fan-out window measured: `load.ts`'s figures, split by worker, and the server's
 * threads. */
interface WindowResult extends FanoutResult {
  /** The span the CPU times were read over (close to `seconds`). */
  readonly cpuSpanSeconds: number;
  /** Latency at subscribers of the worker that received the POST, and of the others. */
  readonly localP50Ms: number;
  readonly localP99Ms: number;
  readonly relayedP50Ms: number;
  readonly relayedP99Ms: number;
  /** What the server's threads did in the window, by thread name. */
  readonly threads: Record<string, ThreadFigures>;
  /** Share of all the machine's cores that was busy (from `/proc/stat`), 0–1. */
  readonly machineBusy: number;
  /** POSTs answered by each worker in the window (index: the answer's `worker`). */
  readonly postsByWorker: number[];
  readonly recipientMismatches: number;
}

/** One group of a process's threads over a window (`/proc/PID/task/TID/stat` and
 * `schedstat`). */
interface ThreadFigures {
  /** utime + stime. */
  readonly cpuSeconds: number;
  /** Time runnable but waiting for a core. */
  readonly waitSeconds: number;
  /** Times put on a core (about the context switches into the threads). */
  readonly slices: number;
}

const NO_THREAD_TIME: ThreadFigures = { cpuSeconds: 0, waitSeconds: 0, slices: 0 };

/** Subscribers that know the worker holding each of them (its join acknowledgement names it;
 * the baseline's names none: 0), and split latency by whether that worker received the POST
 * ("local") or another one did ("relayed"). */
class WorkerSubscriberPool extends SubscriberPool {
  readonly local: LatencyHistogram = new LatencyHistogram();
  readonly relayed: LatencyHistogram = new LatencyHistogram();
  readonly #workerOf = new Map<WebSocket, number>();

  /** How many subscribers each worker holds. */
  subscribersByWorker(): number[] {
    const counts: number[] = [];
    for (const worker of this.#workerOf.values()) counts[worker] = (counts[worker] ?? 0) + 1;
    return Array.from(counts, (count) => count ?? 0);
  }

  override resetLatency(): void {
    super.resetLatency();
    this.local.reset();
    this.relayed.reset();
  }

  override async closeAll(): Promise<void> {
    this.#workerOf.clear();
    await super.closeAll();
  }

  protected override joined(
    socket: WebSocket,
    { ack }: { ack: Readonly<Record<string, unknown>> },
  ): void {
    this.#workerOf.set(socket, typeof ack.worker === "number" ? ack.worker : 0);
  }

  protected override recordLatency(ms: number, event: MessageEvent<string>): void {
    super.recordLatency(ms, event);
    const frame = event.data;
    const originAt = frame.lastIndexOf(ORIGIN_KEY);
    const origin = originAt === -1 ? 0 : parseInt(frame.slice(originAt + ORIGIN_KEY.length));
    const holder = this.#workerOf.get(event.target as WebSocket);
    (origin === holder ? this.local : this.relayed).record(ms);
  }
}

/** One fan-out window on `load.ts`'s publishing loop, plus the split by worker, the server's
 * per-thread CPU time and how busy the machine was. */
async function fanout(
  pool: WorkerSubscriberPool,
  command: ProbeFanoutCommand,
): Promise<WindowResult> {
  let failedPublishes = 0;
  let recipientMismatches = 0;
  const postsByWorker: number[] = [];
  const { before, after } = await publishWindow(pool, command, {
    deliveriesOf: (answer) => {
      if (answer === undefined) {
        failedPublishes++;
        return 0;
      }
      if (command.checkRecipients && answer.recipients !== pool.size) recipientMismatches++;
      if (pool.isMeasuring) {
        const worker = typeof answer.worker === "number" ? answer.worker : 0;
        postsByWorker[worker] = (postsByWorker[worker] ?? 0) + 1;
      }
      // Every subscriber receives the frame, whatever `--recipients local` answers.
      return pool.size;
    },
    snapshot: () => snapshot(pool, command.serverPid),
  });
  const threads: Record<string, ThreadFigures> = {};
  for (const [name, end] of Object.entries(after.threads)) {
    const start = before.threads[name] ?? NO_THREAD_TIME;
    threads[name] = {
      cpuSeconds: end.cpuSeconds - start.cpuSeconds,
      waitSeconds: end.waitSeconds - start.waitSeconds,
      slices: end.slices - start.slices,
    };
  }
  const busy = after.machine.busy - before.machine.busy;
  return {
    deliveries: after.received - before.received,
    seconds: (after.at - before.at) / 1000,
    cpuSpanSeconds: (after.cpuAt - before.cpuAt) / 1000,
    p50Ms: pool.latency.percentile(0.5),
    p99Ms: pool.latency.percentile(0.99),
    localP50Ms: pool.local.percentile(0.5),
    localP99Ms: pool.local.percentile(0.99),
    relayedP50Ms: pool.relayed.percentile(0.5),
    relayedP99Ms: pool.relayed.percentile(0.99),
    serverCpuSeconds: after.serverCpu - before.serverCpu,
    loadCpuSeconds: after.loadCpu - before.loadCpu,
    threads,
    machineBusy: busy / (busy + after.machine.idle - before.machine.idle),
    postsByWorker: Array.from(postsByWorker, (count) => count ?? 0),
    failedPublishes,
    recipientMismatches,
  };
}

/** Deliveries now, and CPU times a moment later: reading `/proc` takes child processes, slow to
 * start on a busy machine, so the CPU times are dated at the middle of that wait. */
async function snapshot(pool: SubscriberPool, serverPid: number) {
  const received = pool.received;
  const at = performance.now();
  const [[serverCpu = NaN, loadCpu = NaN], { machine, threads }] = await Promise.all([
    cpuSeconds([serverPid, Deno.pid]),
    threadTimes(serverPid),
  ]);
  const cpuAt = (at + performance.now()) / 2;
  return { received, at, cpuAt, serverCpu, loadCpu, machine, threads };
}

/** The machine's busy and idle seconds (first line of `/proc/stat`) and, summed by thread
 * name, the CPU time, run-queue wait and time slices of each live thread of `pid`
 * (`/proc/PID/task/TID/stat` and `schedstat`): Deno names a worker's thread `worker-K` and the
 * main thread `deno`; the rest (tokio, V8 helpers) are `other`. One `bash` reads them all at
 * one moment. */
async function threadTimes(pid: number) {
  const script = 'head -n1 /proc/stat; cd /proc/"$1"/task && cat */stat && cat */schedstat';
  const { success, stdout } = await new Deno.Command("bash", {
    args: ["-c", script, "bench", String(pid)],
    stdin: "null",
    stderr: "null",
  }).output();
  if (!success) throw new Error(`reading /proc/${pid}/task failed`);
  const [system = "", ...tasks] = new TextDecoder().decode(stdout).trim().split("\n");
  // cpu user nice system idle iowait irq softirq steal …
  const ticks = system.trim().split(/\s+/).slice(1).map(Number);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0);
  const total = ticks.slice(0, 8).reduce((sum, n) => sum + n, 0);
  // Both globs list the same threads in the same order: the stat lines, then the schedstat ones.
  const count = tasks.length / 2;
  const threads: Record<string, ThreadFigures> = {};
  for (let i = 0; i < count; i++) {
    const stat = tasks[i]!;
    const [, waitNs = 0, slices = 0] = (tasks[count + i] ?? "").split(" ").map(Number);
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const label = name === "deno" ? "main" : name.startsWith("worker-") ? name : "other";
    const sum = threads[label] ?? NO_THREAD_TIME;
    threads[label] = {
      cpuSeconds: sum.cpuSeconds + statCpuSeconds(stat),
      waitSeconds: sum.waitSeconds + waitNs / 1e9,
      slices: sum.slices + slices,
    };
  }
  const machine = {
    busy: (total - idle) / CLOCK_TICKS_PER_SECOND,
    idle: idle / CLOCK_TICKS_PER_SECOND,
  };
  return { machine, threads };
}

/** `--role load`: the load generator, one command a line on stdin, one JSON reply on stdout. */
async function loadMain(): Promise<void> {
  const pool = new WorkerSubscriberPool();
  await serveCommands(async (command: LoadCommand): Promise<Record<string, unknown>> => {
    switch (command.op) {
      case "connect": {
        // Neither server checks tokens: empty ones will do.
        const tokens = Array.from({ length: command.count }, () => "");
        await pool.open(command.wsUrl, { tokens, channel: command.channel });
        return { subscribersByWorker: pool.subscribersByWorker() };
      }
      case "fanout":
        return { ...await fanout(pool, command) };
      case "disconnect":
        await pool.closeAll();
        return {};
      case "exit":
        return {};
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator: the child processes.

/** A server under test: the multi-worker probe server, or the baseline. Disposing it stops
 * it. */
interface Server extends AsyncDisposable {
  readonly pid: number;
  readonly apiUrl: string;
  readonly wsUrl: string;
  /** Every worker's counters; null for the baseline, which keeps none. */
  stats(): Promise<WorkerStats[] | null>;
  /** Zeroes the workers' counters. */
  reset(): Promise<void>;
}

/** `workers_probe_server.ts` with N workers, driven over stdin. */
class ProbeServer implements Server {
  readonly pid: number;
  readonly apiUrl: string;
  readonly wsUrl: string;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncGenerator<string>;

  private constructor(
    child: Deno.ChildProcess,
    lines: AsyncGenerator<string>,
    urls: { api: string; ws: string },
  ) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
    this.apiUrl = `http://${urls.api}`;
    this.wsUrl = `ws://${urls.ws}/`;
  }

  static async start(
    workers: number,
    { placement, recipients }: { placement: Placement; recipients: RecipientsMode },
  ): Promise<ProbeServer> {
    const child = spawn(
      placed([
        Deno.execPath(),
        "run",
        "--unstable-net",
        "--allow-net",
        "--allow-read",
        new URL("workers_probe_server.ts", import.meta.url).pathname,
        ...["--workers", String(workers), "--recipients", recipients],
      ], placement),
      { stdin: "piped", stdout: "piped" },
    );
    const lines = readLines(child.stdout);
    const endpoints = new Map<string, string>();
    // Not `for await`: leaving that loop would close `lines`, still needed for `stats`.
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const match = /^(API|WebSocket) endpoint configured to listen on (.+)$/.exec(next.value);
      if (match !== null) endpoints.set(match[1]!, match[2]!);
      if (next.value === "Running...") break;
    }
    const api = endpoints.get("API");
    const ws = endpoints.get("WebSocket");
    if (api === undefined || ws === undefined) {
      child.kill("SIGKILL");
      throw new Error(`probe server: exited (${(await child.status).code}) before "Running..."`);
    }
    return new ProbeServer(child, lines, { api, ws });
  }

  async #control(op: "stats" | "reset"): Promise<string> {
    await this.#writer.write(new TextEncoder().encode(`${op}\n`));
    for (let next = await this.#lines.next(); !next.done; next = await this.#lines.next()) {
      if (next.value.startsWith("STATS ") || next.value === "RESET") return next.value;
    }
    throw new Error(`probe server exited during ${op}`);
  }

  async stats(): Promise<WorkerStats[]> {
    return JSON.parse((await this.#control("stats")).slice("STATS ".length));
  }

  async reset(): Promise<void> {
    await this.#control("reset");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close().catch(() => {});
    await terminate(this.#child);
    await this.#lines.return(undefined);
  }
}

/** Which server to start. */
type ServerSpec = { readonly kind: "probe"; readonly workers: number } | {
  readonly kind: "baseline";
};

function serverLabel(spec: ServerSpec): string {
  if (spec.kind === "baseline") return "baseline";
  return `${spec.workers} worker${spec.workers === 1 ? "" : "s"}`;
}

async function startServer(
  spec: ServerSpec,
  placement: Placement,
  recipients: RecipientsMode,
): Promise<Server> {
  if (spec.kind === "probe") {
    return await ProbeServer.start(spec.workers, { placement, recipients });
  }
  const baseline = await ServerProcess.start("baseline", { ...placement, tokensUrl: "unused" });
  return {
    pid: baseline.pid,
    apiUrl: baseline.apiUrl,
    wsUrl: baseline.wsUrl,
    stats: () => Promise.resolve(null),
    reset: () => Promise.resolve(),
    [Symbol.asyncDispose]: () => baseline[Symbol.asyncDispose](),
  };
}

/** This file as the load generator (`--role load`), on `LoadProcess`. */
function startLoad(placement: Placement): LoadProcess {
  const script = new URL(import.meta.url).pathname;
  return LoadProcess.start(
    placement,
    ["--allow-net=127.0.0.1", "--allow-run=cat,bash", script, "--role", "load"],
  );
}

async function runRelayBench(placement: Placement): Promise<RelayFigures[]> {
  const child = spawn(
    placed([
      Deno.execPath(),
      "run",
      "--allow-read",
      new URL("workers_probe_server.ts", import.meta.url).pathname,
      "--relay-bench",
    ], placement),
    { stdin: "null", stdout: "piped" },
  );
  let figures: RelayFigures[] | undefined;
  for await (const line of readLines(child.stdout)) {
    if (line.startsWith("RELAY ")) figures = JSON.parse(line.slice("RELAY ".length));
  }
  const { code } = await child.status;
  if (figures === undefined) throw new Error(`relay bench exited with ${code} and no figures`);
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Orchestrator: what it measures and prints.

interface Settings {
  readonly workersList: number[];
  readonly subscribers: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly runs: number;
  readonly rate: number;
  readonly inflight: number;
  readonly placements: ("pinned" | "unpinned")[];
  readonly recipients: RecipientsMode;
  readonly withBaseline: boolean;
  readonly relayBench: boolean;
}

/** One server's windows in one run. */
interface RunRecord {
  readonly placement: "pinned" | "unpinned";
  readonly server: string;
  readonly run: number;
  readonly subscribersByWorker: number[];
  readonly saturate: WindowResult;
  readonly rate: WindowResult;
  readonly rateStats: WorkerStats[] | null;
}

function parseSettings(args: string[]): Settings | "help" {
  const { values } = parseArgs({
    args,
    options: {
      "workers-list": { type: "string", default: "1,2" },
      subscribers: { type: "string", default: "1000" },
      seconds: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      runs: { type: "string", default: "3" },
      rate: { type: "string", default: "20000" },
      inflight: { type: "string", default: "4" },
      placements: { type: "string", default: "pinned,unpinned" },
      recipients: { type: "string", default: "summed" },
      baseline: { type: "boolean" },
      "no-relay-bench": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const positive = (name: keyof typeof values): number => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`--${name}: expected a number > 0, got ${values[name]}`);
    }
    return value;
  };
  const workersList = values["workers-list"].split(",").map(Number);
  if (workersList.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`--workers-list: expected counts ≥ 1, got "${values["workers-list"]}"`);
  }
  const placements = values.placements.split(",");
  if (placements.some((p) => p !== "pinned" && p !== "unpinned")) {
    throw new RangeError(`--placements: expected pinned and/or unpinned`);
  }
  return {
    workersList,
    subscribers: Math.round(positive("subscribers")),
    durationMs: positive("seconds") * 1000,
    warmupMs: Number(values.warmup) * 1000,
    runs: Math.round(positive("runs")),
    rate: positive("rate"),
    inflight: Math.round(positive("inflight")),
    placements: placements as ("pinned" | "unpinned")[],
    recipients: parseRecipients(values.recipients),
    withBaseline: values.baseline === true,
    relayBench: values["no-relay-bench"] !== true,
  };
}

/** One server in one run: connect, warm up, a saturated window, a fixed-rate window. */
async function measureServer(
  settings: Settings,
  { spec, run, placement, serverPlacement, loadPlacement }: {
    spec: ServerSpec;
    run: number;
    placement: "pinned" | "unpinned";
    serverPlacement: Placement;
    loadPlacement: Placement;
  },
): Promise<RunRecord> {
  await using server = await startServer(spec, serverPlacement, settings.recipients);
  await using load = startLoad(loadPlacement);
  const { subscribersByWorker } = await load.send({
    op: "connect",
    wsUrl: server.wsUrl,
    channel: CHANNEL,
    count: settings.subscribers,
  }) as unknown as { subscribersByWorker: number[] };
  const window = (mode: "rate" | "saturate", warmupMs: number, durationMs: number) => {
    const command: ProbeFanoutCommand = {
      op: "fanout",
      apiUrl: server.apiUrl,
      channel: CHANNEL,
      mode,
      deliveriesPerSecond: settings.rate,
      inflight: settings.inflight,
      warmupMs,
      durationMs,
      serverPid: server.pid,
      checkRecipients: settings.recipients === "summed" || spec.kind === "baseline",
    };
    return load.send(command) as Promise<unknown> as Promise<WindowResult>;
  };
  // The first window would pay for JIT compilation: one at full speed, unmeasured.
  await window("saturate", settings.warmupMs + PRIMER_EXTRA_MS, 100);
  await server.reset();
  const saturate = await window("saturate", settings.warmupMs, settings.durationMs);
  await server.reset();
  const rate = await window("rate", settings.warmupMs, settings.durationMs);
  const rateStats = await server.stats();
  await load.send({ op: "disconnect" });
  return {
    placement,
    server: serverLabel(spec),
    run,
    subscribersByWorker,
    saturate,
    rate,
    rateStats,
  };
}

function perSecond(result: WindowResult): number {
  return result.deliveries / result.seconds;
}

/** CPU time per delivery (the server's unless `cpu` is given), in µs: CPU over its own span,
 * deliveries over theirs. */
function cpuMicrosPerDelivery(result: WindowResult, cpu = result.serverCpuSeconds): number {
  return (cpu / result.cpuSpanSeconds) / perSecond(result) * 1e6;
}

/** `seconds` of CPU time in `result`'s window, as % of one core. */
function corePercent(seconds: number, result: WindowResult): number {
  return seconds / result.cpuSpanSeconds * 100;
}

function share(seconds: number, result: WindowResult): string {
  return formatNumber(corePercent(seconds, result), 0);
}

function threadShares(result: WindowResult): string {
  const entries = Object.entries(result.threads).sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([name, thread]) => `${name} ${share(thread.cpuSeconds, result)}`).join(", ");
}

/** Each worker thread's run-queue wait (% of the window) and time slices a second. */
function threadScheduling(result: WindowResult): string {
  const entries = Object.entries(result.threads).filter(([name]) => name !== "other")
    .sort(([a], [b]) => a.localeCompare(b));
  return entries.map(([name, thread]) =>
    `${name} ${share(thread.waitSeconds, result)}% / ` +
    formatNumber(thread.slices / result.cpuSpanSeconds, 0)
  ).join(", ");
}

/** Milliseconds, or "–" when nothing was recorded (NaN, which JSON carries as null). */
function ms(value: number | null): string {
  return value === null || Number.isNaN(value) ? "–" : formatNumber(value, 2);
}

function msPair(p50: number, p99: number): string {
  return `${ms(p50)} / ${ms(p99)}`;
}

/** " *" when the load generator's core was saturated: the window's rate is a lower bound. */
function loadMark(result: WindowResult): string {
  return corePercent(result.loadCpuSeconds, result) >= SATURATED_CORE_SHARE * 100 ? " *" : "";
}

/** One column of a table of `T`s: its header, and how to fill its cell from one `T`. */
type Column<T> = readonly [header: string, cell: (row: T) => string];

/** A Markdown table with one row per item of `rows`. */
function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(columns.map(([header]) => header)),
    line(columns.map(() => "---")),
    ...rows.map((row) => line(columns.map(([, cell]) => cell(row)))),
  ].join("\n");
}

/** The columns that name a run record, first in both tables of every run. */
const RUN_COLUMNS: readonly Column<RunRecord>[] = [
  ["placement", (r) => r.placement],
  ["server", (r) => r.server],
  ["run", (r) => String(r.run + 1)],
];

function rawSaturationTable(records: readonly RunRecord[]): string {
  const postsByWorker = (r: RunRecord) =>
    Array.from(
      { length: Math.max(r.subscribersByWorker.length, r.saturate.postsByWorker.length) },
      (_, i) => r.saturate.postsByWorker[i] ?? 0,
    ).join(" / ");
  const failures = ({ failedPublishes, recipientMismatches }: WindowResult) =>
    failedPublishes + recipientMismatches > 0
      ? ` (${failedPublishes} failed, ${recipientMismatches} bad counts)`
      : "";
  return table(records, [
    ...RUN_COLUMNS,
    ["subscribers per worker", (r) => r.subscribersByWorker.join(" / ")],
    ["POSTs per worker", postsByWorker],
    ["deliveries/s", (r) => formatNumber(perSecond(r.saturate), 0) + loadMark(r.saturate)],
    ["server CPU µs/delivery", (r) => formatNumber(cpuMicrosPerDelivery(r.saturate), 2)],
    ["server % of a core", (r) => share(r.saturate.serverCpuSeconds, r.saturate)],
    ["server threads, % of a core", (r) => threadShares(r.saturate)],
    ["threads' run-queue wait % / slices per s", (r) => threadScheduling(r.saturate)],
    ["load gen % of a core", (r) => share(r.saturate.loadCpuSeconds, r.saturate)],
    ["machine busy %", (r) => formatNumber(r.saturate.machineBusy * 100, 0)],
    ["p50 / p99 ms", (r) => msPair(r.saturate.p50Ms, r.saturate.p99Ms) + failures(r.saturate)],
  ]);
}

function rawRateTable(records: readonly RunRecord[], rate: number): string {
  const perWorker = (key: "hopP50Ms" | "hopP99Ms" | "gatherP50Ms") => (r: RunRecord) =>
    r.rateStats === null ? "–" : r.rateStats.map((stats) => ms(stats[key])).join(" / ");
  return table(records, [
    ...RUN_COLUMNS,
    [`deliveries/s (target ${formatNumber(rate, 0)})`, (r) => formatNumber(perSecond(r.rate), 0)],
    ["server CPU µs/delivery", (r) => formatNumber(cpuMicrosPerDelivery(r.rate), 2)],
    ["p50 / p99 ms, all", (r) => msPair(r.rate.p50Ms, r.rate.p99Ms)],
    ["p50 / p99 ms, local", (r) => msPair(r.rate.localP50Ms, r.rate.localP99Ms)],
    ["p50 / p99 ms, relayed", (r) => msPair(r.rate.relayedP50Ms, r.rate.relayedP99Ms)],
    ["server hop p50 ms, per worker", perWorker("hopP50Ms")],
    ["server hop p99 ms", perWorker("hopP99Ms")],
    ["POST's gather round p50 ms", perWorker("gatherP50Ms")],
  ]);
}

/** The median of the recorded values (nulls are NaN carried through JSON); NaN for none. */
function medianOf(values: readonly (number | null)[]): number {
  return median(values.filter((v): v is number => v !== null && !Number.isNaN(v)));
}

/** Medians per placement and server, with the median (and range) of the per-run ratios to the
 * 1-worker server of the same run. */
function summaryTable(records: readonly RunRecord[], servers: readonly string[]): string {
  const reference = servers.find((s) => s === "1 worker") ?? servers[0];
  const groups = (["pinned", "unpinned"] as const).flatMap((placement) => {
    const ofPlacement = records.filter((r) => r.placement === placement);
    const references = ofPlacement.filter((r) => r.server === reference);
    return servers.map((server) => {
      const runs = ofPlacement.filter((r) => r.server === server);
      return { placement, server, runs, references };
    });
  }).filter((group) => group.runs.length > 0);
  type Group = (typeof groups)[number];
  const medianCell = (figure: (r: RunRecord) => number, digits: number) => (group: Group) =>
    formatNumber(medianOf(group.runs.map(figure)), digits);
  const ratioCell = (figure: (r: RunRecord) => number) => (group: Group) => {
    const ratios = group.runs.flatMap((r) => {
      const other = group.references.find((o) => o.run === r.run);
      return other === undefined ? [] : [figure(r) / figure(other)];
    });
    const [lowest, highest] = [Math.min(...ratios), Math.max(...ratios)];
    return `${formatNumber(median(ratios), 2)} (${formatNumber(lowest, 2)}–${
      formatNumber(highest, 2)
    })`;
  };
  const rates = (r: RunRecord) => perSecond(r.saturate);
  const cpu = (r: RunRecord) => cpuMicrosPerDelivery(r.saturate);
  const isBounded = (group: Group) => group.runs.some((r) => loadMark(r.saturate) !== "");
  return table(groups, [
    ["placement", (group) => group.placement],
    ["server", (group) => group.server],
    [
      "deliveries/s at saturation",
      (group) => medianCell(rates, 0)(group) + (isBounded(group) ? " *" : ""),
    ],
    [`÷ ${reference} (range)`, ratioCell(rates)],
    ["server CPU µs/delivery", medianCell(cpu, 2)],
    ["÷ (range)", ratioCell(cpu)],
    [
      "server % of a core",
      medianCell((r) => corePercent(r.saturate.serverCpuSeconds, r.saturate), 0),
    ],
    [
      "load gen CPU µs/delivery",
      medianCell((r) => cpuMicrosPerDelivery(r.saturate, r.saturate.loadCpuSeconds), 2),
    ],
    [
      "load gen % of a core",
      medianCell((r) => corePercent(r.saturate.loadCpuSeconds, r.saturate), 0),
    ],
    ["machine busy %", medianCell((r) => r.saturate.machineBusy * 100, 0)],
    ["server CPU µs/delivery at fixed rate", medianCell((r) => cpuMicrosPerDelivery(r.rate), 2)],
    [
      "p50 ms at fixed rate, local / relayed",
      ({ runs }) =>
        msPair(
          medianOf(runs.map((r) => r.rate.localP50Ms)),
          medianOf(runs.map((r) => r.rate.relayedP50Ms)),
        ),
    ],
  ]);
}

function relayTable(figures: readonly (RelayFigures & { placement: string })[]): string {
  return table(figures, [
    ["workers placed", (f) => f.placement],
    ["transport", (f) => f.transport],
    ["one at a time: µs per hop (half a round trip)", (f) => formatNumber(f.hopMicros, 1)],
    ["CPU µs per hop", (f) => formatNumber(f.hopCpuMicros, 1)],
    ["streamed: frames/s", (f) => formatNumber(f.streamPerSecond, 0)],
    ["CPU µs per frame", (f) => formatNumber(f.streamCpuMicros, 2)],
  ]);
}

async function probeMain(settings: Settings): Promise<void> {
  const started = performance.now();
  const hasTaskset = await hasCommand("taskset");
  const at = (core: number | null): Placement => ({ core, maxOpenFiles: MAX_OPEN_FILES });
  const placements = settings.placements.filter((p) => p === "unpinned" || hasTaskset);
  if (placements.length < settings.placements.length) log("no taskset: pinned runs skipped");
  const specs: ServerSpec[] = [
    ...(settings.withBaseline ? [{ kind: "baseline" } as const] : []),
    ...settings.workersList.map((workers) => ({ kind: "probe", workers }) as const),
  ];
  console.log(
    `Workers probe: ${settings.subscribers} subscribers on one channel, ~100-byte payloads, ` +
      `${settings.runs} runs, ${settings.durationMs / 1000} s windows after ` +
      `${settings.warmupMs / 1000} s of warm-up, ${settings.inflight} broadcasts in flight at ` +
      `saturation, ${formatNumber(settings.rate, 0)} deliveries/s in the fixed-rate window; POST ` +
      `answers with ${settings.recipients} recipients.`,
  );
  console.log(
    `Machine: ${navigator.hardwareConcurrency} cores, ${await cpuModel()}, Deno ` +
      `${Deno.version.deno} (V8 ${Deno.version.v8}). pinned: server on core 0, load generator ` +
      `on core 1 (taskset); unpinned: neither. Children run with ulimit -n ${MAX_OPEN_FILES}.`,
  );

  if (settings.relayBench) {
    const relayPlacements = hasTaskset
      ? [["one core", at(0)], ["free", at(null)]] as const
      : [["free", at(null)]] as const;
    const figures = [];
    for (const [name, placement] of relayPlacements) {
      log(`relay bench, workers on ${name}`);
      figures.push(...(await runRelayBench(placement)).map((f) => ({ ...f, placement: name })));
    }
    console.log("\n### The relay alone: two workers, one ~130-byte frame\n");
    console.log(relayTable(figures));
  }

  const records: RunRecord[] = [];
  for (const placement of placements) {
    const isPinned = placement === "pinned";
    for (let run = 0; run < settings.runs; run++) {
      const order = run % 2 === 0 ? specs : [...specs].reverse();
      for (const spec of order) {
        const record = await measureServer(settings, {
          spec,
          run,
          placement,
          serverPlacement: at(isPinned ? 0 : null),
          loadPlacement: at(isPinned ? 1 : null),
        });
        records.push(record);
        log(
          `${placement} run ${run + 1} ${record.server}: subscribers ` +
            `${record.subscribersByWorker.join("/")}, saturation ` +
            `${formatNumber(perSecond(record.saturate), 0)}/s at ` +
            `${formatNumber(cpuMicrosPerDelivery(record.saturate), 2)} µs CPU each (server ` +
            `${share(record.saturate.serverCpuSeconds, record.saturate)}%: ` +
            `${threadShares(record.saturate)}; load ` +
            `${share(record.saturate.loadCpuSeconds, record.saturate)}%)`,
        );
      }
    }
  }
  console.log("\n### Saturation, every run\n");
  console.log(rawSaturationTable(records));
  console.log(`\n### Fixed rate (${formatNumber(settings.rate, 0)} deliveries/s), every run\n`);
  console.log(rawRateTable(records, settings.rate));
  console.log("\n### Medians over the runs\n");
  console.log(summaryTable(records, specs.map(serverLabel)));
  console.log(
    `\n\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of a core in at least one ` +
      "run: deliveries/s is a lower bound. Threads: `worker-K` is a Web Worker, `main` the " +
      "main thread, `other` tokio and V8 helper threads. local: subscribers of the worker that " +
      "received the POST; relayed: of another worker. Hop: the relay's post to its arrival, " +
      "as the receiving worker measures it; gather: the POST's wait for the other workers' " +
      "counts.",
  );
  console.log(`\nTook ${formatNumber((performance.now() - started) / 1000, 0)} s.`);
}

function log(line: string): void {
  console.error(line);
}

if (import.meta.main) {
  if (Deno.args.includes("--role")) await loadMain();
  else {
    try {
      const settings = parseSettings(Deno.args);
      if (settings === "help") console.log(HELP);
      else await probeMain(settings);
      Deno.exit(0);
    } catch (error) {
      console.error(`workers probe: ${error instanceof Error ? error.message : error}`);
      Deno.exit(1);
    }
  }
}
