/**
 * @module
 * The benchmark's child processes: Boreas or the baseline server, and the load generator.
 * Each is started under `bash -c 'ulimit -n …; exec "$@"'` (10,000 connections need more file
 * descriptors than the usual 1,024) and, where `taskset` exists, pinned to one core. `exec`
 * keeps the process id, so the id we hold is the Deno process's own, for `/proc`.
 */

import { type Command, readLines, type Reply, writeLine } from "./ipc.ts";

const BENCH_DIR = new URL(".", import.meta.url);
const REPO_DIR = new URL("..", BENCH_DIR);
const ENDPOINT_LINE = /^(API|WebSocket) endpoint configured to listen on (.+):(\d+)$/;
const STOP_TIMEOUT_MS = 20_000;

/** Which server to start. */
export type ServerKind = "boreas" | "baseline";

/** Where and how a child runs. */
export interface Placement {
  /** Core to pin the child to with `taskset -c`; null: not pinned. */
  readonly core: number | null;
  /** The `ulimit -n` to raise the child's file descriptor limit to (or as far as allowed). */
  readonly maxOpenFiles: number;
}

/** Whether `name` is a command on the PATH. */
export async function hasCommand(name: string): Promise<boolean> {
  const { success } = await new Deno.Command("bash", {
    args: ["-c", 'command -v "$1" >/dev/null', "bash", name],
    stdout: "null",
    stderr: "null",
  }).output();
  return success;
}

/** `argv` wrapped to run with `placement`'s file limit and core. */
export function placed(argv: readonly string[], placement: Placement): string[] {
  const limit = placement.maxOpenFiles;
  const script = `ulimit -n ${limit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`;
  const pin = placement.core === null ? [] : ["taskset", "-c", String(placement.core)];
  return ["bash", "-c", script, "bench", ...pin, ...argv];
}

/** Spawns `argv` in the repository's root. */
export function spawn(argv: readonly string[], options: Deno.CommandOptions): Deno.ChildProcess {
  const [command, ...args] = argv;
  return new Deno.Command(command!, { ...options, args, cwd: REPO_DIR }).spawn();
}

/** Sends `child` SIGTERM and waits for its exit (SIGKILL after 20 s); resolves to the exit
 * code. */
export async function terminate(child: Deno.ChildProcess): Promise<number> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  const { code } = await child.status;
  clearTimeout(timer);
  return code;
}

/** A running Boreas or baseline server. Disposing it stops it. */
export class ServerProcess implements AsyncDisposable {
  readonly kind: ServerKind;
  readonly pid: number;
  /** `http://127.0.0.1:PORT` of the HTTP API (the broadcast trigger, for the baseline). */
  readonly apiUrl: string;
  /** `ws://127.0.0.1:PORT/` of the WebSocket endpoint. */
  readonly wsUrl: string;
  readonly #child: Deno.ChildProcess;

  private constructor(kind: ServerKind, child: Deno.ChildProcess, api: string, ws: string) {
    this.kind = kind;
    this.#child = child;
    this.pid = child.pid;
    this.apiUrl = `http://${api}`;
    this.wsUrl = `ws://${ws}/`;
  }

  /** Starts a server on ports 0 and resolves once it printed `Running...`. Boreas loads its
   * tokens from `tokensUrl` (the baseline checks none) and gets `args` after its own flags
   * (e.g. `--redis-url`); the baseline gets `baselineArgs`. `cpuProfDir` runs it under
   * `--cpu-prof`; the profile is written there when it stops. */
  static async start(
    kind: ServerKind,
    options: Placement & {
      tokensUrl: string;
      cpuProfDir?: string | undefined;
      args?: readonly string[];
      baselineArgs?: readonly string[];
    },
  ): Promise<ServerProcess> {
    const profile = options.cpuProfDir === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfDir}`];
    const program = kind === "boreas"
      ? [
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env=BOREAS_*",
        "main.ts",
        ...["--api-port", "0", "--ws-port", "0", "--no-debug", "--log-level", "warn"],
        ...["--max-connections", "1000000", "--max-client-messages-per-second", "1000"],
        ...["--auth-timeout", "0", "--tokens-url", options.tokensUrl],
        ...options.args ?? [],
      ]
      : ["--allow-net", "bench/baseline_server.ts", ...options.baselineArgs ?? []];
    const argv = placed([Deno.execPath(), "run", ...profile, ...program], options);
    const child = spawn(argv, { stdin: "null", stdout: "piped", stderr: "inherit" });
    const lines = readLines(child.stdout);
    const endpoints = new Map<string, string>();
    // Not `for await`: leaving it would close the stream, and `drain` below must go on
    // reading what the server prints later.
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      const match = ENDPOINT_LINE.exec(next.value);
      if (match !== null) endpoints.set(match[1]!, `${match[2]}:${match[3]}`);
      if (next.value === "Running...") break;
    }
    const api = endpoints.get("API");
    const ws = endpoints.get("WebSocket");
    if (api === undefined || ws === undefined) {
      child.kill("SIGKILL");
      throw new Error(`${kind}: exited (${(await child.status).code}) before "Running..."`);
    }
    void drain(lines);
    return new ServerProcess(kind, child, api, ws);
  }

  /** Sends SIGTERM and waits for the exit (SIGKILL after 20 s); resolves to the exit code. */
  stop(): Promise<number> {
    return terminate(this.#child);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** The load generator process, driven one command at a time. Disposing it ends it. */
export class LoadProcess implements AsyncDisposable {
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: AsyncGenerator<string>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.pid = child.pid;
    this.#writer = child.stdin.getWriter();
    this.#lines = readLines(child.stdout);
  }

  /** Starts `bench/load.ts`, or another load generator that answers the same way: `program`
   * is what follows `deno run`. */
  static start(
    placement: Placement,
    program: readonly string[] = [
      "--allow-net=127.0.0.1",
      "--allow-run=cat",
      new URL("load.ts", BENCH_DIR).pathname,
    ],
  ): LoadProcess {
    const argv = placed([Deno.execPath(), "run", ...program], placement);
    return new LoadProcess(spawn(argv, { stdin: "piped", stdout: "piped", stderr: "inherit" }));
  }

  /** Sends `command` and resolves to the reply; rejects when the generator reports an error
   * or exits. */
  async send(command: Command): Promise<Reply & { ok: true }> {
    await writeLine(this.#writer, command);
    const { value, done } = await this.#lines.next();
    if (done) throw new Error(`load generator exited during ${command.op}`);
    const reply = JSON.parse(value) as Reply;
    if (!reply.ok) throw new Error(`load generator: ${reply.error}`);
    return reply;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.send({ op: "exit" });
    } catch {
      this.#child.kill("SIGKILL");
    }
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

async function drain(lines: AsyncGenerator<string>): Promise<void> {
  for await (const _ of lines);
}
