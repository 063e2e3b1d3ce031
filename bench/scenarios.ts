/**
 * @module
 * What one benchmark run measures, for Boreas and the baseline in turn: the fan-out windows
 * (fixed rate and saturation, for each subscriber count), POST /broadcast/ to a channel with
 * no subscribers, and the RSS of idle authenticated connections. Records into `Results`;
 * prints nothing but the progress lines it hands to `log`.
 */

import type { FanoutCommand, FanoutResult } from "./ipc.ts";
import { httpRequestsPerSecond } from "./http_load.ts";
import { LoadProcess, type Placement, type ServerKind, ServerProcess } from "./processes.ts";
import { rssBytes } from "./proc.ts";
import { formatNumber, type Results } from "./report.ts";
import { TokenServer } from "./tokens.ts";

/** The channel every subscriber joins. */
export const CHANNEL = "bench";
/** The channel POST /broadcast/ is measured on: nobody joins it. */
export const EMPTY_CHANNEL = "nobody";
/** A run is marked as limited by the load generator when it used this share of its core. */
export const SATURATED_CORE_SHARE = 0.9;
/** How much longer than a window's warm-up the unmeasured first window of a run lasts. */
export const PRIMER_EXTRA_MS = 500;

/** What to measure and for how long. */
export interface BenchOptions {
  /** Subscriber counts for the fan-out windows, ascending. */
  readonly subscribers: readonly number[];
  /** Deliveries a second in the fixed-rate windows. */
  readonly rate: number;
  /** Broadcasts outstanding at once in the saturation windows. */
  readonly inflight: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Idle authenticated connections for the RSS figure; 0 skips it. */
  readonly idleConnections: number;
  /** Seconds of HTTP load on POST /broadcast/; 0 skips it. */
  readonly httpSeconds: number;
  /** Where the servers and the load generator run. */
  readonly serverPlacement: Placement;
  readonly loadPlacement: Placement;
}

/** Prints one progress line. */
export type Log = (line: string) => void;

const SETTLE_MS = 1_000;

/** The servers of one run by side (Boreas and the baseline by default), each with its own
 * load generator. */
export type Sides<Side extends string = ServerKind> = Map<
  Side,
  { server: ServerProcess; load: LoadProcess }
>;

/** Both servers' fan-out windows and HTTP load for run `run`; the order of the servers
 * alternates between runs. */
export async function fanoutRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results; log: Log },
): Promise<void> {
  if (options.subscribers.length === 0 && options.httpSeconds <= 0) return;
  const order = runOrder(run);
  await using stack = new AsyncDisposableStack();
  const tokens = stack.use(TokenServer.start(Math.max(0, ...options.subscribers)));
  const sides: Sides = new Map();
  for (const kind of order) {
    const placement = { ...options.serverPlacement, tokensUrl: tokens.url };
    const server = stack.use(await ServerProcess.start(kind, placement));
    const load = stack.use(LoadProcess.start(options.loadPlacement));
    sides.set(kind, { server, load });
    await load.send({ op: "tokens", url: tokens.url });
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
      for (const [kind, side] of sides) {
        const result = await fanoutWindow(options, { ...side, mode });
        record({ results, log }, { kind, run, mode, subscribers, result });
      }
    }
  }
  if (options.httpSeconds > 0) await httpRun(run, options, { sides, results, log });
}

/** The first window after startup would pay for JIT compilation, and the server measured
 * first in a run would look slower: warms every server up at full speed, unmeasured. */
export async function prime<Side extends string>(
  options: BenchOptions,
  sides: Sides<Side>,
): Promise<void> {
  const primer = { ...options, warmupMs: options.warmupMs + PRIMER_EXTRA_MS, durationMs: 100 };
  for (const side of sides.values()) await fanoutWindow(primer, { ...side, mode: "saturate" });
}

/** Closes each side's subscribers, then records the POST /broadcast/ rate of each side's
 * server to `EMPTY_CHANNEL` as `http.rps`. */
export async function httpRun<Side extends string>(
  run: number,
  options: BenchOptions,
  { sides, results, log }: { sides: Sides<Side>; results: Results<Side>; log: Log },
): Promise<void> {
  for (const [kind, { server, load }] of sides) {
    await load.send({ op: "disconnect" });
    const perSecond = await httpRequestsPerSecond({
      url: `${server.apiUrl}/broadcast/${EMPTY_CHANNEL}/`,
      seconds: options.httpSeconds,
      placement: options.loadPlacement,
      load,
    });
    results.add(kind, "http.rps", run, perSecond.requestsPerSecond);
    log(
      `run ${run + 1} ${kind.padEnd(8)} POST /broadcast/ (no subscribers, ${perSecond.tool}): ` +
        `${formatNumber(perSecond.requestsPerSecond, 0)} req/s`,
    );
  }
}

/** Both servers' RSS per idle authenticated connection for run `run`. */
export async function idleRun(
  run: number,
  options: BenchOptions,
  { results, log }: { results: Results; log: Log },
): Promise<void> {
  for (const kind of runOrder(run)) {
    const count = options.idleConnections;
    await using tokens = TokenServer.start(count);
    const placement = { ...options.serverPlacement, tokensUrl: tokens.url };
    await using server = await ServerProcess.start(kind, placement);
    await using load = LoadProcess.start(options.loadPlacement);
    await load.send({ op: "tokens", url: tokens.url });
    await sleep(SETTLE_MS);
    const before = await rssBytes(server.pid);
    await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
    await sleep(SETTLE_MS);
    const after = await rssBytes(server.pid);
    const perConnection = (after - before) / count;
    results.add(kind, "idle.rss", run, perConnection / 1024);
    log(
      `run ${run + 1} ${kind.padEnd(8)} ${count} idle connections: RSS ` +
        `${mib(before)} → ${mib(after)} MiB, ${formatNumber(perConnection / 1024, 2)} KiB each`,
    );
  }
}

/** What a profiled Boreas is put under: the saturated fan-out with the most subscribers, or
 * the HTTP load on POST /broadcast/ to a channel with no subscribers. */
export type ProfiledLoad = "fanout" | "http";

/** Runs Boreas alone under `--cpu-prof` through `load`; resolves once it has exited and
 * written its profile into `dir`. */
export async function profileRun(
  options: BenchOptions,
  { dir, load, log }: { dir: string; load: ProfiledLoad; log: Log },
): Promise<void> {
  if (options.subscribers.length === 0) throw new RangeError("--cpu-prof: no subscriber count");
  await using tokens = TokenServer.start(Math.max(...options.subscribers));
  const server = await ServerProcess.start("boreas", {
    ...options.serverPlacement,
    tokensUrl: tokens.url,
    cpuProfDir: dir,
  });
  let failure: unknown;
  try {
    await using generator = LoadProcess.start(options.loadPlacement);
    await generator.send({ op: "tokens", url: tokens.url });
    if (load === "fanout") await saturatedWindow(options, { server, load: generator, log });
    else {
      const figure = await httpRequestsPerSecond({
        url: `${server.apiUrl}/broadcast/${EMPTY_CHANNEL}/`,
        seconds: options.httpSeconds,
        placement: options.loadPlacement,
        load: generator,
      });
      log(
        `boreas POST /broadcast/ (no subscribers, ${figure.tool}): ` +
          `${formatNumber(figure.requestsPerSecond, 0)} req/s`,
      );
    }
  } catch (error) {
    failure = error;
  }
  const code = await server.stop();
  if (failure !== undefined) throw failure;
  if (code !== 0) throw new Error(`boreas exited with ${code}; no profile written`);
}

async function saturatedWindow(
  options: BenchOptions,
  { server, load, log }: { server: ServerProcess; load: LoadProcess; log: Log },
): Promise<void> {
  const subscribers = Math.max(...options.subscribers);
  await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count: subscribers });
  const result = await fanoutWindow(options, { server, load, mode: "saturate" });
  record({ results: undefined, log }, {
    kind: "boreas",
    run: 0,
    mode: "saturate",
    subscribers,
    result,
  });
}

/** Where a window publishes and how, besides the default (`CHANNEL`, every subscriber, over
 * HTTP), and whose CPU time is read with the server's: the optional fields of the command. */
export type WindowRouting = Pick<
  FanoutCommand,
  "extraPids" | "channels" | "random" | "recipients" | "via" | "withRef"
>;

/** One fan-out window of `mode` on `server`, driven by `load` through its subscribers; the
 * CPU time of `extraPids` (other nodes, Redis) is read beside the server's. */
export function fanoutWindow(
  options: Pick<BenchOptions, "rate" | "inflight" | "warmupMs" | "durationMs">,
  { server, load, mode, ...routing }: {
    server: ServerProcess;
    load: LoadProcess;
    mode: "rate" | "saturate";
  } & WindowRouting,
): Promise<FanoutResult> {
  return load.send({
    op: "fanout",
    apiUrl: server.apiUrl,
    channel: CHANNEL,
    mode,
    deliveriesPerSecond: options.rate,
    inflight: options.inflight,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    serverPid: server.pid,
    ...routing,
  }) as Promise<FanoutResult>;
}

/** Records one fan-out window's figures under `${mode}.${subscribers}.*` and logs them. */
export function record<Side extends string>(
  { results, log }: { results: Results<Side> | undefined; log: Log },
  { kind, run, mode, subscribers, result }: {
    kind: Side;
    run: number;
    mode: "rate" | "saturate";
    subscribers: number;
    result: FanoutResult;
  },
): void {
  const key = `${mode}.${subscribers}`;
  const perSecond = result.deliveries / result.seconds;
  const cpuMicros = result.serverCpuSeconds / result.deliveries * 1e6;
  const serverShare = result.serverCpuSeconds / result.seconds;
  const loadShare = result.loadCpuSeconds / result.seconds;
  const isBounded = loadShare >= SATURATED_CORE_SHARE;
  if (results !== undefined) {
    results.add(kind, `${key}.rate`, run, perSecond);
    results.add(kind, `${key}.p50`, run, result.p50Ms);
    results.add(kind, `${key}.p99`, run, result.p99Ms);
    results.add(kind, `${key}.cpu`, run, cpuMicros);
    results.add(kind, `${key}.core`, run, serverShare * 100);
    if (isBounded && mode === "saturate") results.markBounded(kind, `${key}.rate`);
  }
  log(
    `run ${run + 1} ${kind.padEnd(8)} ${String(subscribers).padStart(5)} subscribers ` +
      `${mode.padEnd(8)}: ${formatNumber(perSecond, 0).padStart(7)} deliveries/s, ` +
      `p50 ${formatNumber(result.p50Ms, 2)} ms, p99 ${formatNumber(result.p99Ms, 2)} ms, ` +
      `${formatNumber(cpuMicros, 2)} µs CPU each; cores: server ` +
      `${formatNumber(serverShare * 100, 0)}%, load ${formatNumber(loadShare * 100, 0)}%` +
      (isBounded ? " (load generator saturated)" : "") +
      (result.failedPublishes > 0 ? `; ${result.failedPublishes} publishes failed` : ""),
  );
}

/** Boreas first in even runs, the baseline first in odd ones. */
export function runOrder(run: number): ServerKind[] {
  return run % 2 === 0 ? ["boreas", "baseline"] : ["baseline", "boreas"];
}

function mib(bytes: number): string {
  return formatNumber(bytes / 1024 / 1024, 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
