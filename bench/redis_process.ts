/**
 * @module
 * The benchmark's own `redis-server`, for the cluster scenarios: on a free loopback port, with
 * its working directory in a fresh temporary directory, no snapshots and no append-only file.
 * Never the machine's Redis. Temporary directories are made and removed with `mktemp` and
 * `rm` (the bench task has `--allow-run` but no `--allow-write`).
 */

import { readLines } from "./ipc.ts";
import { placed, type Placement, spawn, terminate } from "./processes.ts";

const READY_LINE = /Ready to accept connections/;
const READY_TIMEOUT_MS = 10_000;

/** A running `redis-server`. Disposing it stops it and removes its directory. */
export class RedisProcess implements AsyncDisposable {
  readonly pid: number;
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;

  private constructor(child: Deno.ChildProcess, { port, dir }: { port: number; dir: string }) {
    this.#child = child;
    this.#dir = dir;
    this.pid = child.pid;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  /** Starts `redis-server` with `placement` (and `args` after the benchmark's own flags) and
   * resolves once it accepts connections. */
  static async start(placement: Placement, args: readonly string[] = []): Promise<RedisProcess> {
    const port = freePort();
    const dir = (await run("mktemp", ["-d", "-t", "boreas-bench-redis.XXXXXX"])).trim();
    const argv = placed([
      "redis-server",
      ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir],
      ...["--save", "", "--appendonly", "no"],
      ...args,
    ], placement);
    const child = spawn(argv, { stdin: "null", stdout: "piped", stderr: "inherit" });
    const redis = new RedisProcess(child, { port, dir });
    const lines = readLines(child.stdout);
    const timer = setTimeout(() => child.kill("SIGKILL"), READY_TIMEOUT_MS);
    let isReady = false;
    for (let next = await lines.next(); !next.done; next = await lines.next()) {
      if (READY_LINE.test(next.value)) {
        isReady = true;
        break;
      }
    }
    clearTimeout(timer);
    if (!isReady) {
      await redis[Symbol.asyncDispose]();
      throw new Error(`redis-server on port ${port}: exited before accepting connections`);
    }
    void drain(lines);
    return redis;
  }

  /** Runs `redis-cli` against this server with `args`; resolves to its stdout. */
  cli(args: readonly string[]): Promise<string> {
    return run("redis-cli", ["-p", String(this.port), ...args]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await terminate(this.#child);
    await run("rm", ["-rf", "--", this.#dir]);
  }
}

/** A TCP port nothing on 127.0.0.1 listens on at the moment. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function run(command: string, args: readonly string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args: [...args],
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  if (!success) throw new Error(`${command} ${args[0]}: ${decoder.decode(stderr).trim()}`);
  return decoder.decode(stdout);
}

async function drain(lines: AsyncGenerator<string>): Promise<void> {
  for await (const _ of lines);
}
