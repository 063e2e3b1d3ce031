/**
 * @module
 * How the orchestrator (`bench/main.ts`) drives the load generator (`bench/load.ts`): one
 * JSON command a line on the generator's stdin, one JSON reply a line on its stdout, strictly
 * in turn. Types and line framing only.
 */

/** Fetches the token list at `url` (a JSON array of strings): subscribers authenticate with
 * these tokens, one each, in order. */
export interface TokensCommand {
  readonly op: "tokens";
  readonly url: string;
}

/** Opens `count` more WebSockets to `wsUrl`; each authenticates with its own token
 * and joins `channel`, and the reply comes once every join was acknowledged. With `channels`,
 * the k-th of these subscribers joins `channels[k % channels.length]` instead. */
export interface ConnectCommand {
  readonly op: "connect";
  readonly wsUrl: string;
  readonly channel: string;
  readonly channels?: readonly string[];
  readonly count: number;
}

/** Closes every open WebSocket and waits for their close events. */
export interface DisconnectCommand {
  readonly op: "disconnect";
}

/** Publishes ~100-byte payloads to `channel` and measures what the subscribers receive.
 * `rate`: a fixed number of deliveries a second (open loop). `saturate`: as fast as the
 * server delivers, keeping `inflight` publications' deliveries outstanding (closed loop).
 * Measurement starts after `warmupMs` and lasts `durationMs`. */
export interface FanoutCommand {
  readonly op: "fanout";
  readonly apiUrl: string;
  readonly channel: string;
  readonly mode: "rate" | "saturate";
  /** Deliveries a second, in `rate` mode. */
  readonly deliveriesPerSecond: number;
  /** Broadcasts whose deliveries may be outstanding at once, in `saturate` mode. */
  readonly inflight: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The server process, whose CPU time is read at the window's edges. */
  readonly serverPid: number;
  /** More server-side processes (cluster nodes, `redis-server`) whose CPU time is read with
   * the server's; reported apart, in `extraCpuSeconds`. */
  readonly extraPids?: readonly number[];
  /** Publish to these channels in turn instead of `channel`. */
  readonly channels?: readonly string[];
  /** With `channels`, publish each time to one picked at random instead. */
  readonly random?: boolean;
  /** Deliveries one publication brings; default: every subscriber (one channel). */
  readonly recipients?: number;
  /** How each publication goes out: `http` (default), a POST to `apiUrl`; `client`, a client
   * publication sent by a subscriber of the channel, picked at random, over its WebSocket. */
  readonly via?: "http" | "client";
  /** Whether a client publication carries a `ref`, and waits for the server's reply (default
   * true); without, nothing answers it and only the deliveries pace the closed loop. */
  readonly withRef?: boolean;
}

/** Opens `connections` WebSockets to `wsUrl`, authenticated with the first tokens, each alone
 * in a channel of its own; then each, one message at a time, moves to its other channel (one
 * join and one leave per message) and waits for the acknowledgement. Measures after
 * `warmupMs` for `durationMs`, then closes them. */
export interface ChurnCommand {
  readonly op: "churn";
  readonly wsUrl: string;
  readonly connections: number;
  /** Start of the channels' names; connection i moves between `${prefix}-i-0` and `-1`. */
  readonly prefix: string;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Server-side processes whose CPU time is read at the window's edges. */
  readonly serverPids: readonly number[];
}

/** A reconnect storm: opens one WebSocket to `wsUrl` for each of `tokens`, at most `inflight`
 * at a time, each sending `{"access_token": T, "ref": 1}` as it opens; done for a connection
 * when the server answers `{"ref": 1, "ok": true}`. Measures from the first open to the last
 * answer, then closes them all. */
export interface StormCommand {
  readonly op: "storm";
  readonly wsUrl: string;
  readonly tokens: readonly string[];
  readonly inflight: number;
  /** The server process, whose CPU time is read at the storm's edges. */
  readonly serverPid: number;
}

/** Sends `POST url` with a JSON body over `connections` keep-alive connections for
 * `durationMs`: the fallback when `wrk` is not installed. */
export interface HttpCommand {
  readonly op: "http";
  readonly url: string;
  readonly body: string;
  readonly connections: number;
  readonly durationMs: number;
}

/** Ends the load generator. */
export interface ExitCommand {
  readonly op: "exit";
}

/** Anything the orchestrator may send. */
export type Command =
  | TokensCommand
  | ConnectCommand
  | DisconnectCommand
  | FanoutCommand
  | HttpCommand
  | ChurnCommand
  | StormCommand
  | ExitCommand;

/** What one fan-out window measured. */
export interface FanoutResult {
  /** Frames received by all subscribers within the window. */
  readonly deliveries: number;
  readonly seconds: number;
  /** Publish-to-receive latency percentiles, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time the server and the load generator used within the window, in seconds. */
  readonly serverCpuSeconds: number;
  readonly loadCpuSeconds: number;
  /** Broadcasts answered with another status than 200, or that failed. */
  readonly failedPublishes: number;
  /** CPU time each of the command's `extraPids` used within the window, in seconds. */
  readonly extraCpuSeconds?: readonly number[];
}

/** What one churn window measured. */
export interface ChurnResult {
  /** Channel messages acknowledged within the window (each one join and one leave). */
  readonly moves: number;
  readonly seconds: number;
  /** Send-to-acknowledgement percentiles, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time each of `serverPids` used within the window, in seconds, in order. */
  readonly serverCpuSeconds: readonly number[];
  readonly loadCpuSeconds: number;
}

/** What one reconnect storm measured. */
export interface StormResult {
  /** Connections authenticated (all of the command's tokens, or the storm failed). */
  readonly authentications: number;
  /** From the first open to the last answer. */
  readonly seconds: number;
  /** Open-to-answer percentiles, in milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time the server and the load generator used meanwhile, in seconds. */
  readonly serverCpuSeconds: number;
  readonly loadCpuSeconds: number;
}

/** What the fallback HTTP load measured. */
export interface HttpResult {
  readonly requests: number;
  readonly seconds: number;
  readonly failed: number;
}

/** The reply to each command: `{ ok: true, ...result }` or `{ ok: false, error }`. */
export type Reply =
  | (
    & { readonly ok: true }
    & Partial<FanoutResult & HttpResult>
    & { readonly ms?: number; readonly churn?: ChurnResult; readonly storm?: StormResult }
  )
  | { readonly ok: false; readonly error: string };

const UTF8 = new TextEncoder();

/** Writes `value` as one JSON line. */
export async function writeLine(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  value: unknown,
): Promise<void> {
  await writer.write(UTF8.encode(`${JSON.stringify(value)}\n`));
}

/** Yields each line of `stream`, without its line end. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    pending += text;
    let end: number;
    while ((end = pending.indexOf("\n")) !== -1) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
    }
  }
  if (pending !== "") yield pending;
}
