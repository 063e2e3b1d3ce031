/**
 * @module
 * A `redis-server` of the test's own, on a free loopback port in a temporary directory, that a
 * test can kill and start again on the same port. Never the machine's Redis on 6379.
 */

import { withTimeout } from "./helpers.ts";

/** How long redis-server may take to start or stop, in milliseconds. */
const REDIS_WAIT_MS = 5_000;

/** A running (or stopped, between `kill` and `start`) redis-server. */
export interface RedisServer extends AsyncDisposable {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops the server with `signal` (default SIGKILL: no goodbye, no save) and waits for it. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Sends `signal` without waiting, e.g. SIGSTOP to freeze it and SIGCONT to thaw it. */
  signal(signal: Deno.Signal): void;
  /** Starts it again on the same port: empty, unless it keeps an append-only file. */
  start(): Promise<void>;
  /** Runs one `redis-cli` command against it; returns its output, trimmed. */
  cli(...args: string[]): Promise<string>;
}

/** Options of `startRedis`. */
export interface RedisOptions {
  /** Keep an append-only file, synced at every write, so that a restart keeps the data.
   * Default false: it keeps nothing. */
  readonly appendOnly?: boolean;
}

/** Starts a redis-server on a free port. Fails, saying how to install it, when there is none. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "boreas_redis_" });
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    child = await spawnRedis(port, dir, options.appendOnly ?? false);
  };
  const kill = async (signal: Deno.Signal = "SIGKILL") => {
    if (child === undefined) return;
    const running = child;
    child = undefined;
    running.kill(signal);
    await withTimeout(running.status, "redis-server to exit", REDIS_WAIT_MS);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    signal: (signal) => child?.kill(signal),
    async cli(...args) {
      const { stdout } = await new Deno.Command("redis-cli", {
        args: ["-p", String(port), ...args],
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(stdout).trim();
    },
    async [Symbol.asyncDispose]() {
      await kill();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A loopback port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function spawnRedis(
  port: number,
  dir: string,
  appendOnly: boolean,
): Promise<Deno.ChildProcess> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        appendOnly ? "yes" : "no",
        "--appendfsync",
        "always",
        "--logfile",
        "",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "redis-server is not installed; the cluster tests need it (apt-get install -y redis-server, " +
          "which the README's test command does for you)",
      );
    }
    throw error;
  }
  // It logs to stdout; read it until it accepts connections, then drain the rest unread.
  const lines = child.stdout.pipeThrough(new TextDecoderStream());
  const reader = lines.getReader();
  let seen = "";
  await withTimeout(
    (async () => {
      while (!seen.includes("Ready to accept connections")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`redis-server exited on port ${port}: ${seen}`);
        seen += value;
      }
    })(),
    `redis-server to start on port ${port}`,
    REDIS_WAIT_MS,
  );
  reader.releaseLock();
  lines.pipeTo(new WritableStream()).catch(() => {});
  return child;
}
