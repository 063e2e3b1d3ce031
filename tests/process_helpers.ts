/**
 * @module
 * End-to-end fixtures: `main.ts` run as a child process whose stdout is read line by line and
 * whose stderr is collected, and temporary directories; both are disposed with `await using`.
 */

import { fileURLToPath } from "node:url";
import { SERVER_PERMISSIONS } from "../tools/compile_all.ts";
import { withTimeout } from "./helpers.ts";

/** Absolute path of the `boreas` entry point. */
export const MAIN_PATH: string = fileURLToPath(new URL("../main.ts", import.meta.url));

/** The permissions `deno task start` and the compiled binary grant. */
export const MAIN_PERMISSIONS: readonly string[] = SERVER_PERMISSIONS;

/** How long a child may take to start, print or exit, in milliseconds. */
export const PROCESS_WAIT_MS = 5_000;

/** Where and with what environment to run `boreas`. */
export interface SpawnOptions {
  /** Working directory of the child: a temp dir, so no stray `./boreas.json` is read. */
  readonly cwd: string;
  /** `BOREAS_*` variables for the child; those of the test process are never passed on. */
  readonly env?: Readonly<Record<string, string>>;
  /** What to run instead of `serverCommand()`, e.g. a bundle of main.ts. */
  readonly command?: { program: string; args: readonly string[] };
}

/** How a child ended, with everything it printed. */
export interface Exit {
  readonly code: number;
  readonly signal: Deno.Signal | null;
  readonly stdout: readonly string[];
  readonly stderr: string;
}

/** The host and port of both endpoints, from the banner's `configured to listen on` lines. */
export interface Endpoints {
  readonly apiPort: number;
  readonly wsPort: number;
  readonly apiUrl: string;
  readonly wsUrl: string;
}

/** A running `deno run main.ts`. Disposing it kills it if it still runs, then waits for it to
 * exit and for both of its pipes to be read to the end. */
export class BoreasProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #stdout: string[] = [];
  #stderr = "";
  #isExited = false;
  #isClosed = false;
  readonly #done: Promise<unknown>;
  #wakers: Array<() => void> = [];

  constructor(child: Deno.ChildProcess) {
    this.#child = child;
    const stdout = this.#pump(child.stdout, (text) => {
      const lines = text.split("\n");
      // The last piece is a line still being written; it is kept until its newline comes.
      const partial = lines.pop() ?? "";
      this.#stdout.push(...lines.map((line) => line.replace(/\r$/, "")));
      return partial;
    });
    const stderr = this.#pump(child.stderr, (text) => {
      this.#stderr += text;
      return "";
    });
    const status = child.status.then((status) => {
      this.#isExited = true;
      this.#wake();
      return status;
    });
    this.#done = Promise.all([status, stdout, stderr]);
    // Rejections surface when awaited (in exited() or on dispose), not as unhandled ones.
    this.#done.catch(() => {}).finally(() => {
      this.#isClosed = true;
      this.#wake();
    });
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    take: (text: string) => string,
  ): Promise<void> {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      rest = take(rest + text);
      this.#wake();
    }
    if (rest !== "") take(`${rest}\n`);
    this.#wake();
  }

  #wake(): void {
    const wakers = this.#wakers;
    this.#wakers = [];
    wakers.forEach((wake) => wake());
  }

  /** Resolves once `isReached()` holds (true) or the child has exited and closed its pipes
   * without it holding (false); rejects after `ms` naming `what` and showing the output. */
  async #until(isReached: () => boolean, what: string, ms: number): Promise<boolean> {
    const wait = async () => {
      while (!isReached()) {
        if (this.#isClosed) return false;
        await new Promise<void>((resolve) => this.#wakers.push(resolve));
      }
      return true;
    };
    try {
      return await withTimeout(wait(), what, ms);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.#printed()}`, { cause: error });
    }
  }

  #printed(): string {
    return `stdout so far: ${JSON.stringify(this.#stdout)}\nstderr so far: ${
      JSON.stringify(this.#stderr)
    }`;
  }

  /** The stdout lines up to and including the first one equal to `last`. */
  async linesUntil(last = "Running...", ms = PROCESS_WAIT_MS): Promise<string[]> {
    const what = `boreas to print ${JSON.stringify(last)} on stdout`;
    if (!await this.#until(() => this.#stdout.includes(last), what, ms)) {
      throw new Error(`boreas exited before printing ${JSON.stringify(last)}\n${this.#printed()}`);
    }
    return this.#stdout.slice(0, this.#stdout.indexOf(last) + 1);
  }

  /** The stderr text once a line of it matches `pattern`. */
  async stderrMatching(pattern: RegExp, ms = PROCESS_WAIT_MS): Promise<string> {
    const what = `boreas to print a line matching ${pattern} on stderr`;
    const isMatched = () => this.#stderr.split("\n").some((line) => pattern.test(line));
    if (!await this.#until(isMatched, what, ms)) {
      throw new Error(`boreas exited without printing ${pattern} on stderr\n${this.#printed()}`);
    }
    return this.#stderr;
  }

  /** Sends `signal` to the child. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Waits for the child to exit and close its pipes; everything it printed comes back. */
  async exited(ms = PROCESS_WAIT_MS): Promise<Exit> {
    try {
      const [status] = await withTimeout(this.#done, "boreas to exit", ms) as [Deno.CommandStatus];
      return {
        code: status.code,
        signal: status.signal,
        stdout: [...this.#stdout],
        stderr: this.#stderr,
      };
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.#printed()}`, { cause: error });
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#isExited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // It exited between the check and the kill.
      }
    }
    await withTimeout(this.#done, "boreas to exit after SIGKILL", PROCESS_WAIT_MS);
  }
}

/** The command that starts the server under test: the compiled binary named by the
 * `BOREAS_TEST_COMMAND` environment variable (the release workflow sets it), or else
 * `deno run main.ts` with the permissions of `deno task start`. */
export function serverCommand(): { program: string; args: readonly string[] } {
  const binary = Deno.env.get("BOREAS_TEST_COMMAND");
  if (binary !== undefined && binary !== "") return { program: binary, args: [] };
  return { program: Deno.execPath(), args: ["run", ...MAIN_PERMISSIONS, MAIN_PATH] };
}

/** The environment for a child (pass it with `clearEnv: true`): this process's, without its
 * `BOREAS_*` variables, with `NO_COLOR=1` and `extra`. */
export function childEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (!name.startsWith("BOREAS_")) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Starts the server under test (see `serverCommand`) with `args`. */
export function spawnBoreas(
  args: readonly string[],
  options: SpawnOptions,
): Promise<BoreasProcess> {
  const server = options.command ?? serverCommand();
  const command = new Deno.Command(server.program, {
    args: [...server.args, ...args],
    cwd: options.cwd,
    clearEnv: true,
    env: childEnv(options.env),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  return Promise.resolve(new BoreasProcess(command.spawn()));
}

/** Reads both endpoints from banner lines; fails when either line is missing or has port 0. */
export function endpointsOf(lines: readonly string[]): Endpoints {
  const find = (prefix: string) => {
    for (const line of lines) {
      const match = line.match(new RegExp(`^${prefix} configured to listen on (.+):(\\d+)$`));
      if (match) {
        const port = Number(match[2]);
        if (port === 0) throw new Error(`the banner shows port 0: ${JSON.stringify(line)}`);
        return { host: match[1]!, port };
      }
    }
    throw new Error(`no "${prefix} configured to listen on" line in ${JSON.stringify(lines)}`);
  };
  const api = find("API endpoint");
  const ws = find("WebSocket endpoint");
  return {
    apiPort: api.port,
    wsPort: ws.port,
    apiUrl: `http://${api.host}:${api.port}`,
    wsUrl: `ws://${ws.host}:${ws.port}/`,
  };
}

/** A temporary directory, removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  /** Writes `text` to `name` inside the directory; returns the file's absolute path. */
  write(name: string, text: string): Promise<string>;
}

/** Creates a temporary directory. */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "boreas_test_" });
  return {
    path,
    async write(name, text) {
      const file = `${path}/${name}`;
      await Deno.writeTextFile(file, text);
      return file;
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}
