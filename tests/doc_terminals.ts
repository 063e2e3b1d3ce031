/**
 * @module
 * A reader's terminals, to run the docs' commands as written: a shell typed one command at a
 * time (its variables carry over, as in a terminal), and a command that keeps running, such as
 * `wsdump` or `curl -N`, whose lines are read as it prints them and which can be typed at.
 */

import { withTimeout } from "./helpers.ts";
import { childEnv } from "./process_helpers.ts";

/** How long a command may take to print what is awaited, in milliseconds. */
const TERMINAL_WAIT_MS = 5_000;

/** Written after each command, with its exit code, so that its output ends there. */
const END_MARK = "\x1e";

/** Where and with what to run a shell. */
export interface ShellOptions {
  /** Its working directory; default this process's. */
  readonly cwd?: string;
  /** Variables beside this process's (whose `BOREAS_*` ones are left out). */
  readonly env?: Readonly<Record<string, string>>;
}

/** What one command printed and its exit code. */
export interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** The text of `stream`, read on demand. */
class TextReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  text = "";
  #isDone = false;
  // A read outlives a timed-out wait, and its text must not be lost to the next one.
  #read: Promise<ReadableStreamReadResult<string>> | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Reads until `isEnough(text)` holds; false if the stream ended first. */
  async until(isEnough: (text: string) => boolean, what: string): Promise<boolean> {
    while (!isEnough(this.text)) {
      if (this.#isDone) return false;
      this.#read ??= this.#reader.read();
      const { value, done } = await withTimeout(this.#read, what, TERMINAL_WAIT_MS);
      this.#read = null;
      if (done) this.#isDone = true;
      else this.text += value;
    }
    return true;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

/** An `sh` typed at line by line. Dispose it to end its input and wait for it to exit. */
export class Shell implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: TextReader;
  readonly #stderr: Promise<string>;
  #stderrSoFar = "";

  constructor({ cwd, env = {} }: ShellOptions = {}) {
    const child = new Deno.Command("sh", {
      ...(cwd === undefined ? {} : { cwd }),
      clearEnv: true,
      env: childEnv(env),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#input = child.stdin.getWriter();
    this.#stdout = new TextReader(child.stdout);
    this.#stderr = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderrSoFar += text;
      }
      return this.#stderrSoFar;
    })();
  }

  /** Types `command` and Enter, and waits for it to finish. */
  async run(command: string): Promise<Ran> {
    const stderrBefore = this.#stderrSoFar.length;
    await this.#input.write(
      new TextEncoder().encode(`${command}\nprintf '\\036%s\\n' "$?"\n`),
    );
    const isEnded = (text: string) => new RegExp(`${END_MARK}\\d+\n`).test(text);
    if (!await this.#stdout.until(isEnded, `${JSON.stringify(command)} to finish`)) {
      throw new Error(`sh exited running ${command}: ${this.#stderrSoFar}`);
    }
    const text = this.#stdout.text;
    const mark = text.indexOf(END_MARK);
    const lineEnd = text.indexOf("\n", mark);
    this.#stdout.text = text.slice(lineEnd + 1);
    return {
      stdout: text.slice(0, mark),
      stderr: this.#stderrSoFar.slice(stderrBefore),
      code: Number(text.slice(mark + 1, lineEnd)),
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#input.close().catch(() => {});
    try {
      await withTimeout(this.#child.status, "sh to exit", TERMINAL_WAIT_MS);
    } catch (error) {
      // A command still runs; the shell goes, and the error says why.
      this.#child.kill("SIGKILL");
      await this.#child.status;
      throw error;
    } finally {
      await this.#stdout.cancel();
      await this.#stderr;
    }
  }
}

/** How to run a `LiveCommand`. */
export interface LiveOptions extends ShellOptions {
  /** A prompt it prints before reading a line (wsdump's `> `); not part of the lines. */
  readonly prompt?: string;
  /** Whether its stderr shows among its lines, as in a terminal (a server's `Listening on`
   * line); default false, so that curl's progress meter does not. */
  readonly isStderrShown?: boolean;
}

/** A command line run by `sh -c` that keeps running, read line by line as a terminal shows its
 * lines: without ANSI control sequences and prompts, blank lines skipped. It may start with
 * variable assignments (`NAME=value command ...`). Dispose it to end its input, kill it if it
 * still runs, and wait for it. */
export class LiveCommand implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #input: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stdout: TextReader;
  readonly #prompt: RegExp;
  #isExited = false;

  constructor(command: string, { prompt, env = {}, cwd, isStderrShown = false }: LiveOptions = {}) {
    // `exec`, so that a signal reaches the command itself rather than the shell; `env`, which
    // execs the command in turn, so that it may start with variable assignments.
    this.#child = new Deno.Command("sh", {
      args: ["-c", `exec env ${command}${isStderrShown ? " 2>&1" : ""}`],
      ...(cwd === undefined ? {} : { cwd }),
      clearEnv: true,
      env: childEnv(env),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child.status.then(() => {
      this.#isExited = true;
    });
    this.#input = this.#child.stdin.getWriter();
    this.#stdout = new TextReader(this.#child.stdout);
    const escaped = (prompt ?? "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    this.#prompt = new RegExp(`^(?:${escaped})*`);
  }

  /** Types `line` and Enter. */
  async type(line: string): Promise<void> {
    await this.#input.write(new TextEncoder().encode(`${line}\n`));
  }

  /** The next line it prints that shows something. Rejects if it exits first. */
  async nextLine(what: string): Promise<string> {
    let line = "";
    const isLine = (text: string) => {
      for (let cut = text.indexOf("\n"); cut >= 0; cut = text.indexOf("\n")) {
        line = this.#render(text.slice(0, cut));
        text = this.#stdout.text = text.slice(cut + 1);
        if (line !== "") return true;
      }
      return false;
    };
    if (!await this.#stdout.until(isLine, what)) {
      throw new Error(
        `it exited before printing ${what}; printed last ${JSON.stringify(this.#stdout.text)}`,
      );
    }
    return line;
  }

  /** Ends its input, as Ctrl+D does, waits for it to exit, and returns the lines it printed
   * after the last `nextLine()`. */
  async end(): Promise<string[]> {
    await this.#input.close().catch(() => {});
    await withTimeout(this.#child.status, "the command to exit at the end of its input");
    await this.#stdout.until(() => false, "its output to end");
    return this.#stdout.text.split("\n").map((line) => this.#render(line))
      .filter((line) => line !== "");
  }

  /** Sends `signal` to it. */
  kill(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  #render(line: string): string {
    // deno-lint-ignore no-control-regex
    return line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/\r$/, "").replace(this.#prompt, "");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#input.close().catch(() => {});
    if (!this.#isExited) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // It exited between the check and the kill.
      }
    }
    await withTimeout(this.#child.status, "the command to exit", TERMINAL_WAIT_MS);
    await this.#stdout.cancel();
  }
}

/** The words `sh` makes of `command` (quotes removed, variables and globs expanded), as the
 * program it runs would get them, assignments in front included. */
export async function shellWords(
  command: string,
  { cwd, env = {} }: ShellOptions = {},
): Promise<string[]> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", `printf '%s\\0' ${command}`],
    ...(cwd === undefined ? {} : { cwd }),
    clearEnv: true,
    env: childEnv(env),
  }).output();
  const decoder = new TextDecoder();
  if (code !== 0) throw new Error(`sh cannot read ${command}: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout).split("\0").slice(0, -1);
}
