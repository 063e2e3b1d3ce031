// deno-lint-ignore-file no-console
/**
 * @module
 * `deno task bench:hook`: the latency the publish hook adds to a client's publication. Two
 * Boreas servers run side by side with the benchmark's flags (`processes.ts`), `--no-require-auth`
 * and `--client-publish bench`; one also has `--publish-hook-url` pointing at a backend in this
 * process that answers `{}` at once. On each, one client publishes to `bench`, one publication at
 * a time, and times each from its send to its `{"ref", "ok"}` reply, while a second client
 * subscribed to `bench` receives them. The sides alternate in rounds; the report gives, per side,
 * the percentiles of those round trips and the server CPU per publication, and the difference.
 * Progress goes to stderr, the report (Markdown) to stdout. Linux only (`/proc`).
 */

import { parseArgs } from "node:util";
import { numberReader } from "./args.ts";
import { cpuModel, cpuSeconds } from "./proc.ts";
import { hasCommand, type Placement, ServerProcess } from "./processes.ts";
import { formatNumber } from "./report.ts";
import { TokenServer } from "./tokens.ts";

const HELP = `Usage: deno task bench:hook [options]

  --quick                  3 rounds of 500 publications: a few seconds
  --rounds N               rounds, each side once per round, alternating (default 5, quick 3)
  --publications N         publications per side and round (default 2000, quick 500)
  --warmup N               unmeasured publications per side first (default 500, quick 200)
  --no-pin                 do not pin the servers to core 0 with taskset
  -h, --help               show this help`;

const CHANNEL = "bench";
const SECRET = "bench-hook-secret";

/** The two sides: without the hook, and with it. */
type Side = "off" | "hook";
const SIDES: readonly Side[] = ["off", "hook"];

interface Settings {
  readonly rounds: number;
  readonly publications: number;
  readonly warmup: number;
  readonly isPinned: boolean;
}

function parseSettings(args: string[]): Settings | "help" {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      publications: { type: "string" },
      warmup: { type: "string" },
      "no-pin": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const number = numberReader(values);
  return {
    rounds: Math.max(1, number("rounds", 3, 5)),
    publications: Math.max(1, number("publications", 500, 2_000)),
    warmup: number("warmup", 200, 500),
    isPinned: !values["no-pin"],
  };
}

/** A WebSocket whose text frames are handed, parsed, to whoever waits for the next one. */
class Client implements AsyncDisposable {
  readonly #socket: WebSocket;
  #waiter: PromiseWithResolvers<Record<string, unknown>> | undefined;
  /** Frames that came with nobody waiting. */
  unread = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const frame = JSON.parse(event.data as string) as Record<string, unknown>;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter === undefined) this.unread++;
      else waiter.resolve(frame);
    };
    // A limit broken, or a server gone: the run is void.
    socket.onclose = ({ code, reason }) =>
      this.#waiter?.reject(new Error(`connection closed: ${code} ${reason}`));
  }

  /** Opens a connection to `url` and joins `bench`. */
  static async joined(url: string): Promise<Client> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const client = new Client(socket);
    const reply = await client.request({ channels: { join: [CHANNEL], leave: [] } }, 0);
    if (reply.ok !== true) throw new Error(`join refused: ${JSON.stringify(reply)}`);
    return client;
  }

  /** Sends `message` with `ref` and resolves to the next frame (its reply: this client never
   * receives its own publications). */
  request(message: Record<string, unknown>, ref: number): Promise<Record<string, unknown>> {
    this.#waiter = Promise.withResolvers();
    this.#socket.send(JSON.stringify({ ...message, ref }));
    return this.#waiter.promise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.#socket.onclose = resolve);
    this.#socket.close();
    await closed;
  }
}

/** One side's server and clients, and what it measured. */
interface Bench extends AsyncDisposable {
  readonly server: ServerProcess;
  readonly publisher: Client;
  readonly subscriber: Client;
  /** Round trips, in milliseconds. */
  readonly roundTrips: number[];
  cpuSeconds: number;
}

/** Publishes `count` times from `bench`'s publisher, one at a time; resolves to each round
 * trip in milliseconds. */
async function publishSeries(bench: Bench, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 1; i <= count; i++) {
    const started = performance.now();
    const reply = await bench.publisher.request(
      { publish: { channel: CHANNEL, payload: { text: "hello, room", i } } },
      i,
    );
    times.push(performance.now() - started);
    if (reply.ok !== true) throw new Error(`publication refused: ${JSON.stringify(reply)}`);
  }
  return times;
}

/** The backend: answers every publication `{}` at once, and the token list `[]`. */
function startBackend(): Deno.HttpServer<Deno.NetAddr> & { hookUrl: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return new Response("{}", { headers: { "content-type": "application/json" } });
  });
  return Object.assign(server, { hookUrl: `http://127.0.0.1:${server.addr.port}/publish` });
}

async function startSide(
  side: Side,
  { hookUrl, tokensUrl, placement }: { hookUrl: string; tokensUrl: string; placement: Placement },
): Promise<Bench> {
  const hook = side === "hook" ? ["--publish-hook-url", hookUrl, "--webhook-secret", SECRET] : [];
  const server = await ServerProcess.start("boreas", {
    ...placement,
    tokensUrl,
    // The publisher sends far more than the default 1,000 messages a second.
    args: [
      "--no-require-auth",
      "--client-publish",
      CHANNEL,
      "--max-client-messages-per-second",
      "1000000",
      ...hook,
    ],
  });
  const publisher = await Client.joined(server.wsUrl);
  const subscriber = await Client.joined(server.wsUrl);
  return {
    server,
    publisher,
    subscriber,
    roundTrips: [],
    cpuSeconds: 0,
    async [Symbol.asyncDispose]() {
      await publisher[Symbol.asyncDispose]();
      await subscriber[Symbol.asyncDispose]();
      await server.stop();
    },
  };
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

async function main(): Promise<number> {
  const settings = parseSettings(Deno.args);
  if (settings === "help") {
    console.log(HELP);
    return 0;
  }
  const isPinned = settings.isPinned && await hasCommand("taskset");
  const placement: Placement = { core: isPinned ? 0 : null, maxOpenFiles: 1_024 };
  await using tokens = TokenServer.serve([]);
  const backend = startBackend();
  try {
    const benches = new Map<Side, Bench>();
    for (const side of SIDES) {
      benches.set(
        side,
        await startSide(side, { hookUrl: backend.hookUrl, tokensUrl: tokens.url, placement }),
      );
    }
    try {
      for (const bench of benches.values()) await publishSeries(bench, settings.warmup);
      for (let round = 0; round < settings.rounds; round++) {
        const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
        for (const side of order) {
          const bench = benches.get(side)!;
          const [before] = await cpuSeconds([bench.server.pid]);
          bench.roundTrips.push(...await publishSeries(bench, settings.publications));
          const [after] = await cpuSeconds([bench.server.pid]);
          bench.cpuSeconds += after! - before!;
          console.error(`round ${round + 1}/${settings.rounds}: ${side} done`);
        }
      }
      report(benches, settings, { isPinned, cpu: await cpuModel() });
    } finally {
      for (const bench of benches.values()) await bench[Symbol.asyncDispose]();
    }
  } finally {
    await backend.shutdown();
  }
  return 0;
}

function report(
  benches: ReadonlyMap<Side, Bench>,
  settings: Settings,
  { isPinned, cpu }: { isPinned: boolean; cpu: string },
): void {
  const figures = new Map<Side, Record<string, number>>();
  for (const [side, bench] of benches) {
    const sorted = [...bench.roundTrips].sort((a, b) => a - b);
    const mean = sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length;
    figures.set(side, {
      "p50 publish → reply (ms)": percentile(sorted, 0.5),
      "p90 publish → reply (ms)": percentile(sorted, 0.9),
      "p99 publish → reply (ms)": percentile(sorted, 0.99),
      "mean publish → reply (ms)": mean,
      "server CPU per publication (µs)": bench.cpuSeconds * 1e6 / sorted.length,
    });
  }
  const off = figures.get("off")!;
  const hook = figures.get("hook")!;
  const total = settings.rounds * settings.publications;
  console.log(`Publish hook: ${total} publications a side, one at a time, in ${settings.rounds}`);
  console.log(`alternating rounds after ${settings.warmup} unmeasured; servers`);
  console.log(`${isPinned ? "pinned to core 0" : "not pinned"}; ${cpu}.`);
  console.log("");
  console.log("| figure | off | hook | hook − off |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const name of Object.keys(off)) {
    const digits = name.includes("µs") ? 1 : 3;
    const [a, b] = [off[name]!, hook[name]!];
    console.log(
      `| ${name} | ${formatNumber(a, digits)} | ${formatNumber(b, digits)} | ${
        formatNumber(b - a, digits)
      } |`,
    );
  }
  const unread = [...benches.values()].map((bench) => bench.subscriber.unread);
  console.log("");
  const sent = settings.warmup + total;
  console.log(
    `Frames received by the subscribers (of ${sent}): off ${unread[0]}, hook ${unread[1]}.`,
  );
}

if (import.meta.main) Deno.exit(await main());
