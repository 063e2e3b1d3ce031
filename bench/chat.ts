/**
 * @module
 * The chat part of `deno task bench` (`--only chat`, `--chat-only`): `--rooms` rooms (default
 * 2,000) of 3 subscribers each, every message to a room picked at random. Boreas (with
 * `--no-require-auth --client-publish 'room:*'`) and the baseline are started side by side in
 * each run and driven the same way, each by its own load generator: HTTP broadcasts
 * (`POST /broadcast/{room}/` over keep-alive connections, 3 frames each) and client
 * publications (`{"publish": …, "ref": N}` sent by one of the room's subscribers over its
 * WebSocket, 2 frames each: the sender gets its reply, not its message), each paced and at
 * saturation. Records the server CPU per delivered message for two tables: Boreas against the
 * baseline, and client publications against HTTP broadcasts (`chat_cluster.ts` adds two
 * cluster nodes' to the second). Prints nothing but the progress lines it hands to `log`.
 */

import type { FanoutResult } from "./ipc.ts";
import { LoadProcess, type Placement, type ServerKind, ServerProcess } from "./processes.ts";
import { type Columns, formatNumber, Results, type RowSpec, SERVER_COLUMNS } from "./report.ts";
import {
  fanoutWindow,
  type Log,
  PRIMER_EXTRA_MS,
  runOrder,
  SATURATED_CORE_SHARE,
} from "./scenarios.ts";
import { TokenServer } from "./tokens.ts";

/** Subscribers of each room. */
export const MEMBERS = 3;
/** Boreas's flags besides the benchmark's: anyone may publish to a room. */
export const CHAT_ARGS = ["--no-require-auth", "--client-publish", "room:*"] as const;

/** How a message reaches its room: `POST /broadcast/` or a client publication. */
export type Via = "http" | "client";
export const VIAS: readonly Via[] = ["http", "client"];

/** Client publications judged against HTTP broadcasts. */
export const VIA_COLUMNS: Columns<Via> = {
  subject: "client",
  reference: "http",
  labels: { client: "client publications", http: "HTTP broadcasts" },
};

/** What the chat part measures and where it runs. */
export interface ChatOptions {
  readonly rooms: number;
  /** Deliveries a second in the paced windows. */
  readonly rate: number;
  /** Messages whose deliveries may be outstanding at once at saturation. */
  readonly inflight: number;
  /** Whether client publications carry a `ref` and wait for their reply. */
  readonly withRef: boolean;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly serverPlacement: Placement;
  readonly loadPlacement: Placement;
}

/** Both of the chat part's tables. */
export interface ChatResults {
  /** Boreas against the baseline; keys `${via}.${mode}.${figure}`. */
  readonly servers: Results<ServerKind>;
  /** Client publications against HTTP broadcasts; keys `${server}.${mode}.${figure}`, where
   * `server` is `boreas`, `baseline` or `cluster`. */
  readonly vias: Results<Via>;
}

/** The rooms, `room:0` … `room:${rooms - 1}`, and where their subscribers' tokens are served
 * (one for each of `rooms × MEMBERS`, until `stack` is disposed). */
export function chatSetup(
  stack: AsyncDisposableStack,
  { rooms }: Pick<ChatOptions, "rooms">,
): { tokensUrl: string; rooms: string[] } {
  const tokens = stack.use(TokenServer.start(rooms * MEMBERS));
  return { tokensUrl: tokens.url, rooms: Array.from({ length: rooms }, (_, i) => `room:${i}`) };
}

/** Runs the standalone chat windows `runs` times; the results go to `results`. */
export async function measureChat(
  options: ChatOptions,
  { runs, results, log }: { runs: number; results: ChatResults; log: Log },
): Promise<void> {
  for (let run = 0; run < runs; run++) await chatRun(run, options, { results, log });
}

/** Boreas and the baseline, each with its `rooms × MEMBERS` subscribers, through every
 * window of run `run`; the order of the servers alternates between runs. */
async function chatRun(
  run: number,
  options: ChatOptions,
  { results, log }: { results: ChatResults; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const { tokensUrl, rooms } = chatSetup(stack, options);
  const sides = new Map<ServerKind, { server: ServerProcess; load: LoadProcess }>();
  for (const kind of runOrder(run)) {
    sides.set(kind, await startChatSide(stack, kind, { options, tokensUrl, rooms }));
  }
  for (const side of sides.values()) await primeChat(options, { ...side, rooms });
  for (const via of VIAS) {
    for (const mode of ["rate", "saturate"] as const) {
      for (const [kind, side] of sides) {
        const result = await chatWindow(options, { ...side, rooms, via, mode });
        const figures = chatFigures(result, { label: `${kind} ${via}`, run, mode, log });
        addFigures(results.servers, { side: kind, key: `${via}.${mode}`, run, figures });
        addFigures(results.vias, { side: via, key: `${kind}.${mode}`, run, figures });
      }
    }
  }
}

/** The first saturated window after startup pays for JIT compilation: one, unmeasured. */
export async function primeChat(
  options: ChatOptions,
  side: { server: ServerProcess; load: LoadProcess; rooms: readonly string[] },
): Promise<void> {
  const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
  for (const via of VIAS) await chatWindow(primer, { ...side, via, mode: "saturate" });
}

/** One window of messages to random `rooms`, sent `via` HTTP (to `server`) or as client
 * publications; `extraPids`' CPU time is read beside `server`'s. */
export function chatWindow(
  options: ChatOptions,
  { server, load, rooms, via, mode, extraPids }: {
    server: ServerProcess;
    load: LoadProcess;
    rooms: readonly string[];
    via: Via;
    mode: "rate" | "saturate";
    extraPids?: readonly number[];
  },
): Promise<FanoutResult> {
  return fanoutWindow(options, {
    server,
    load,
    mode,
    channels: rooms,
    random: true,
    // The sender of a client publication does not receive it.
    recipients: via === "http" ? MEMBERS : MEMBERS - 1,
    via,
    withRef: options.withRef,
    ...(extraPids === undefined ? {} : { extraPids }),
  });
}

/** What one chat window measured, as recorded. */
export interface ChatFigures {
  /** Server-side CPU per delivered message (µs): the server's and every extra process's. */
  readonly cpu: number;
  /** Of which each process's: the server's first, then each extra one's. */
  readonly cpuByProcess: readonly number[];
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Whether the load generator used its core: `rate` is then a lower bound. */
  readonly isBounded: boolean;
}

/** `result`'s figures; logs them as `run N label mode: …`. */
export function chatFigures(
  result: FanoutResult,
  { label, run, mode, log }: { label: string; run: number; mode: string; log: Log },
): ChatFigures {
  const perProcess = [result.serverCpuSeconds, ...result.extraCpuSeconds ?? []];
  const cpuByProcess = perProcess.map((seconds) => seconds / result.deliveries * 1e6);
  const cpu = cpuByProcess.reduce((sum, micros) => sum + micros, 0);
  const rate = result.deliveries / result.seconds;
  const loadShare = result.loadCpuSeconds / result.seconds;
  const isBounded = loadShare >= SATURATED_CORE_SHARE;
  const shares = perProcess.map((seconds) => formatNumber(seconds / result.seconds * 100, 0));
  log(
    `run ${run + 1} ${label.padEnd(16)} ${mode.padEnd(8)}: ` +
      `${formatNumber(rate, 0).padStart(7)} deliveries/s, p50 ${formatNumber(result.p50Ms, 2)} ` +
      `ms, p99 ${formatNumber(result.p99Ms, 2)} ms, ${formatNumber(cpu, 2)} µs CPU each; ` +
      `cores: server ${shares.join(" + ")}%, load ${formatNumber(loadShare * 100, 0)}%` +
      (isBounded ? " (load generator saturated)" : "") +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publications failed` : ""),
  );
  return { cpu, cpuByProcess, rate, p50: result.p50Ms, p99: result.p99Ms, isBounded };
}

/** Records `figures` under `${key}.cpu`, `.cpu.${i}` (each process's), `.rate`, `.p50` and
 * `.p99`, marking `.rate` as a lower bound when the load generator was saturated. */
export function addFigures<Side extends string>(
  results: Results<Side>,
  { side, key, run, figures }: { side: Side; key: string; run: number; figures: ChatFigures },
): void {
  results.add(side, `${key}.cpu`, run, figures.cpu);
  figures.cpuByProcess.forEach((micros, i) => results.add(side, `${key}.cpu.${i}`, run, micros));
  results.add(side, `${key}.rate`, run, figures.rate);
  results.add(side, `${key}.p50`, run, figures.p50);
  results.add(side, `${key}.p99`, run, figures.p99);
  if (figures.isBounded) results.markBounded(side, `${key}.rate`);
}

/** New, empty chat results. */
export function chatResults(): ChatResults {
  return { servers: new Results(SERVER_COLUMNS), vias: new Results(VIA_COLUMNS) };
}

/** The rows of one side-by-side table for the windows under `prefix` (`http`, `boreas`, …):
 * CPU per delivered message paced and at saturation (with `target` when given), throughput
 * and latency. */
export function chatRows(
  prefix: string,
  { rate, what, target }: { rate: number; what: string; target?: RowSpec["target"] },
): RowSpec[] {
  const paced = `at ${formatNumber(rate, 0)} deliveries/s`;
  const judged = target === undefined ? {} : { target };
  return [
    {
      key: `${prefix}.saturate.cpu`,
      label: `server CPU per delivered msg at saturation, ${what} (µs)`,
      digits: 2,
      ...judged,
    },
    {
      key: `${prefix}.rate.cpu`,
      label: `server CPU per delivered msg ${paced}, ${what} (µs)`,
      digits: 2,
      ...judged,
    },
    { key: `${prefix}.saturate.rate`, label: `delivered msg/s at saturation, ${what}`, digits: 0 },
    { key: `${prefix}.rate.p50`, label: `p50 latency ${paced}, ${what} (ms)`, digits: 2 },
    { key: `${prefix}.rate.p99`, label: `p99 latency ${paced}, ${what} (ms)`, digits: 2 },
  ];
}

/** Starts a `kind` server with the chat flags and a load generator whose subscribers fill
 * `rooms`, `MEMBERS` each, onto `stack`. */
async function startChatSide(
  stack: AsyncDisposableStack,
  kind: ServerKind,
  { options, tokensUrl, rooms, cpuProfDir }: {
    options: ChatOptions;
    tokensUrl: string;
    rooms: readonly string[];
    cpuProfDir?: string;
  },
): Promise<{ server: ServerProcess; load: LoadProcess }> {
  const server = stack.use(
    await ServerProcess.start(kind, {
      ...options.serverPlacement,
      tokensUrl,
      args: CHAT_ARGS,
      cpuProfDir,
    }),
  );
  const load = stack.use(LoadProcess.start(options.loadPlacement));
  await load.send({ op: "tokens", url: tokensUrl });
  const count = rooms.length * MEMBERS;
  await load.send({
    op: "connect",
    wsUrl: server.wsUrl,
    channel: rooms[0]!,
    channels: rooms,
    count,
  });
  return { server, load };
}

/** Runs a `kind` server alone under `--cpu-prof` through a saturated chat window sent `via`
 * HTTP or as client publications; resolves once it has exited and written its profile into
 * `dir`. */
export async function profileChat(
  options: ChatOptions,
  { dir, kind, via, log }: { dir: string; kind: ServerKind; via: Via; log: Log },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const { tokensUrl, rooms } = chatSetup(stack, options);
  const side = await startChatSide(stack, kind, { options, tokensUrl, rooms, cpuProfDir: dir });
  const result = await chatWindow(options, { ...side, rooms, via, mode: "saturate" });
  chatFigures(result, { label: `${kind} ${via}`, run: 0, mode: "saturate", log });
  const code = await side.server.stop();
  if (code !== 0) throw new Error(`${kind} exited with ${code}; no profile written`);
}
