/**
 * @module
 * The auth part of `deno task bench` (`--only auth`, `--auth-only`), in two halves, each side
 * measured in the same run as its reference:
 *
 * - Reconnect storm: `STORM_CONNECTIONS` WebSockets opening and authenticating as fast as they
 *   can, `STORM_INFLIGHT` at a time (`storm.ts`, in the load generator), against a fresh
 *   Boreas per side: opaque tokens minted with a grant (the reference), JWTs signed HS256
 *   (`--jwt-secret`) and ES256 (`--jwt-public-key`). After an unmeasured warm-up storm.
 * - Grants and webhooks: the fan-out windows of `scenarios.ts` at 1,000 subscribers of one
 *   channel, with subscribers authenticated by tokens minted with a `channels` grant and the
 *   server POSTing webhooks to a local receiver, against Boreas with neither.
 *
 * Renders its tables, verdicts and notes as Markdown lines; prints nothing but the progress
 * lines it hands to `log`.
 */

import { JwtKeys, type JwtKind, mintTokens, WebhookReceiver } from "./auth_setup.ts";
import { LoadProcess, ServerProcess } from "./processes.ts";
import { cpuSeconds } from "./proc.ts";
import { type Columns, formatNumber, median, Results, type RowSpec } from "./report.ts";
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

/** Connections in one measured storm. */
export const STORM_CONNECTIONS = 2_000;
/** Connections opening or authenticating at once in a storm. */
export const STORM_INFLIGHT = 250;
/** Connections in the unmeasured storm before it, on the same server. */
export const STORM_WARMUP = 500;
/** Subscribers of the one channel in the grants and webhooks fan-out windows. */
export const FEATURE_SUBSCRIBERS = 1_000;

const SETTLE_MS = 1_000;
const GRANT = [CHANNEL];

/** How the storm's connections authenticate. */
type StormSide = "opaque" | JwtKind;
const STORM_SIDES: readonly StormSide[] = ["opaque", "hs256", "es256"];
const STORM_LABELS: Readonly<Record<StormSide, string>> = {
  opaque: "opaque",
  hs256: "JWT HS256",
  es256: "JWT ES256",
};
const STORM_ROWS: readonly RowSpec[] = [
  { key: "storm.rate", label: "authentications/s", digits: 0 },
  { key: "storm.cpu", label: "server CPU per authentication (µs)", digits: 1 },
  { key: "storm.p50", label: "p50 open → authenticated (ms)", digits: 1 },
  { key: "storm.p99", label: "p99 open → authenticated (ms)", digits: 1 },
  { key: "storm.core", label: "server core use (%)", digits: 0 },
  { key: "storm.load", label: "load generator core use (%)", digits: 0 },
];

/** Grants and webhooks on, or neither. */
type FeatureSide = "on" | "off";
const FEATURE_COLUMNS: Columns<FeatureSide> = {
  subject: "on",
  reference: "off",
  labels: { on: "grants + webhooks", off: "off" },
};

/** Runs both halves `runs` times and resolves to the report's lines. */
export async function measureAuth(
  options: BenchOptions,
  { runs, log }: { runs: number; log: Log },
): Promise<string[]> {
  await using keys = await JwtKeys.create();
  const count = STORM_WARMUP + STORM_CONNECTIONS;
  const jwts = {
    hs256: await keys.sign("hs256", { count, channels: GRANT }),
    es256: await keys.sign("es256", { count, channels: GRANT }),
  };
  const storms = new Results<StormSide>({
    subject: "hs256",
    reference: "opaque",
    labels: STORM_LABELS,
  });
  for (let run = 0; run < runs; run++) {
    await stormRun(run, options, { keys, jwts, results: storms, log });
  }
  await using receiver = new WebhookReceiver();
  const features = new Results(FEATURE_COLUMNS);
  for (let run = 0; run < runs; run++) {
    await featureRun(run, options, { receiver, results: features, log });
  }
  const { markdown, verdicts } = features.table(featureRows(options));
  return [
    `Reconnect storm: ${formatNumber(STORM_CONNECTIONS, 0)} WebSockets opening and ` +
    `authenticating, ${STORM_INFLIGHT} in flight, after ${STORM_WARMUP} unmeasured, on a fresh ` +
    `Boreas per side; ${runs} runs, medians; ratios are medians of the per-run ratios to opaque.`,
    "",
    ...stormTable(storms),
    "",
    `\\* the load generator used ≥ ${SATURATED_CORE_SHARE * 100}% of its core in at least one ` +
    "run: that rate is a lower bound.",
    "",
    `Grants and webhooks: ${formatNumber(FEATURE_SUBSCRIBERS, 0)} subscribers of one channel ` +
    "with tokens minted with a channels grant, and --webhook-url to a local receiver answering " +
    `204, against Boreas with neither; ${runs} runs, medians.`,
    "",
    markdown,
    "",
    `Webhooks received: ${receiver.events} events in ${receiver.batches} batches, ` +
    `${receiver.badSignatures} with a bad signature.`,
    "",
    "Targets:",
    ...verdicts.map((verdict) =>
      `- ${verdict.isMet ? "held" : "MISSED"}: ${verdict.label}: on / off = ` +
      `${formatNumber(verdict.ratio, 2)} (target ≤ ${verdict.target.value.toFixed(2)})`
    ),
  ];
}

/** One storm per side, each on a fresh server, the order rotating from run to run. */
async function stormRun(
  run: number,
  options: BenchOptions,
  { keys, jwts, results, log }: {
    keys: JwtKeys;
    jwts: Readonly<Record<JwtKind, readonly string[]>>;
    results: Results<StormSide>;
    log: Log;
  },
): Promise<void> {
  await using none = TokenServer.start(0);
  await using load = LoadProcess.start(options.loadPlacement);
  for (const side of rotate(STORM_SIDES, run)) {
    const args = side === "opaque" ? [] : keys.args(side);
    const placement = { ...options.serverPlacement, tokensUrl: none.url, args };
    await using server = await ServerProcess.start("boreas", placement);
    const tokens = side === "opaque"
      ? await mintTokens(server.apiUrl, { count: jwts.hs256.length, channels: GRANT })
      : jwts[side];
    const storm = async (list: readonly string[]) => {
      const command = { wsUrl: server.wsUrl, inflight: STORM_INFLIGHT, serverPid: server.pid };
      return (await load.send({ op: "storm", tokens: list, ...command })).storm!;
    };
    await storm(tokens.slice(0, STORM_WARMUP));
    const result = await storm(tokens.slice(STORM_WARMUP));
    const { authentications: n, seconds } = result;
    const loadShare = result.loadCpuSeconds / seconds;
    results.add(side, "storm.rate", run, n / seconds);
    results.add(side, "storm.cpu", run, result.serverCpuSeconds / n * 1e6);
    results.add(side, "storm.p50", run, result.p50Ms);
    results.add(side, "storm.p99", run, result.p99Ms);
    results.add(side, "storm.core", run, result.serverCpuSeconds / seconds * 100);
    results.add(side, "storm.load", run, loadShare * 100);
    if (loadShare >= SATURATED_CORE_SHARE) results.markBounded(side, "storm.rate");
    log(
      `run ${run + 1} storm ${side.padEnd(6)}: ${formatNumber(n / seconds, 0)} auth/s, ` +
        `${formatNumber(result.serverCpuSeconds / n * 1e6, 1)} µs server CPU each, ` +
        `p99 ${formatNumber(result.p99Ms, 1)} ms; load ${formatNumber(loadShare * 100, 0)}%`,
    );
  }
}

/** The storm table: each side's medians, and each JWT side's median per-run ratio to opaque
 * with its range. */
function stormTable(results: Results<StormSide>): string[] {
  const jwtSides = STORM_SIDES.filter((side) => side !== "opaque");
  const lines = [
    `| figure | opaque | ${
      jwtSides.map((side) => `${STORM_LABELS[side]} | ÷ opaque (range)`).join(" | ")
    } |`,
    `| --- | ---: | ${jwtSides.map(() => "---: | ---:").join(" | ")} |`,
  ];
  for (const row of STORM_ROWS) {
    const cell = (side: StormSide) =>
      formatNumber(results.median(side, row.key), row.digits) +
      (results.boundedRuns(side, row.key) > 0 ? " *" : "");
    const reference = results.values("opaque", row.key);
    const ratios = jwtSides.map((side) => {
      const perRun = results.values(side, row.key).map((value, run) => value / reference[run]!);
      const range = perRun.length < 2
        ? ""
        : ` (${formatNumber(Math.min(...perRun), 2)}–${formatNumber(Math.max(...perRun), 2)})`;
      return `${cell(side)} | ${formatNumber(median(perRun), 2)}${range}`;
    });
    lines.push(`| ${row.label} | ${cell("opaque")} | ${ratios.join(" | ")} |`);
  }
  return lines;
}

function featureRows(options: BenchOptions): RowSpec[] {
  const subs = `${formatNumber(FEATURE_SUBSCRIBERS, 0)} subscribers`;
  const atRate = `at ${formatNumber(options.rate, 0)} deliveries/s`;
  const cpu = (mode: "rate" | "saturate", where: string): RowSpec => ({
    key: `${mode}.${FEATURE_SUBSCRIBERS}.cpu`,
    label: `server CPU per delivered msg ${where}, ${subs} (µs)`,
    digits: 2,
    target: { kind: "max-ratio", value: 1.05 },
  });
  return [
    cpu("rate", atRate),
    cpu("saturate", "at saturation"),
    { key: `rate.${FEATURE_SUBSCRIBERS}.p99`, label: `p99 latency ${atRate} (ms)`, digits: 2 },
    {
      key: `saturate.${FEATURE_SUBSCRIBERS}.rate`,
      label: "delivered msg/s at saturation",
      digits: 0,
    },
    {
      key: "connect.cpu",
      label: "server CPU per subscriber opening, authenticating and joining (µs)",
      digits: 1,
    },
  ];
}

/** Both servers' fan-out windows for run `run`, the order alternating. */
async function featureRun(
  run: number,
  options: BenchOptions,
  { receiver, results, log }: {
    receiver: WebhookReceiver;
    results: Results<FeatureSide>;
    log: Log;
  },
): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const sides: Sides<FeatureSide> = new Map();
  for (const side of rotate(["on", "off"] as const, run)) {
    const isOn = side === "on";
    const loaded = stack.use(TokenServer.start(isOn ? 0 : FEATURE_SUBSCRIBERS));
    const args = isOn ? ["--webhook-url", receiver.url, "--webhook-secret", receiver.secret] : [];
    const placement = { ...options.serverPlacement, tokensUrl: loaded.url, args };
    const server = stack.use(await ServerProcess.start("boreas", placement));
    const tokens = isOn
      ? stack.use(TokenServer.serve(
        await mintTokens(server.apiUrl, { count: FEATURE_SUBSCRIBERS, channels: GRANT }),
      ))
      : loaded;
    const load = stack.use(LoadProcess.start(options.loadPlacement));
    sides.set(side, { server, load });
    await load.send({ op: "tokens", url: tokens.url });
    const [before] = await cpuSeconds([server.pid]);
    const count = FEATURE_SUBSCRIBERS;
    await load.send({ op: "connect", wsUrl: server.wsUrl, channel: CHANNEL, count });
    // Batches of webhooks go out within 200 ms of their first event.
    await sleep(SETTLE_MS);
    const [after] = await cpuSeconds([server.pid]);
    results.add(side, "connect.cpu", run, (after! - before!) / count * 1e6);
  }
  await prime(options, sides);
  const events = receiver.events;
  for (const mode of ["rate", "saturate"] as const) {
    for (const [kind, side] of sides) {
      const result = await fanoutWindow(options, { ...side, mode });
      record({ results, log }, { kind, run, mode, subscribers: FEATURE_SUBSCRIBERS, result });
    }
  }
  log(`run ${run + 1} webhooks: ${receiver.events - events} events during the windows`);
}

/** `items` rotated left by `run`: each side goes first in turn. */
function rotate<T>(items: readonly T[], run: number): T[] {
  const k = run % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
