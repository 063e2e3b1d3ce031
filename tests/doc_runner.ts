/**
 * @module
 * Runs the docs' steps (doc_commands.ts) as a reader would, with the tools the docs name: the
 * servers they start (Boreas as `deno task start` runs it, redis-server, an example backend of
 * docs/examples/), every other command typed at one real `sh`, and each terminal's frames typed
 * at, and printed by, a real `wsdump`. What they print must be what the docs show.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { WAIT_MS } from "./helpers.ts";
import { until } from "./cluster_helpers.ts";
import { DocSession, type DocStep } from "./doc_commands.ts";
import { LiveCommand, Shell, shellWords } from "./doc_terminals.ts";
import { endpointsOf, spawnBoreas } from "./process_helpers.ts";
import { startRedis } from "./redis_server.ts";

/** The checkout, where the docs run the examples from. */
const CHECKOUT = fileURLToPath(new URL("..", import.meta.url));

/** Leading `NAME=value` words of a command line. */
const ASSIGNMENTS = /^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*/;

/** Asserts that `steps` still hold each of `starts` (the start of a command after its variable
 * assignments, or `>` and `<` for frames): a section that lost its server, client or frames would check less and still pass. */
export function assertHolds(steps: readonly DocStep[], starts: readonly string[]): void {
  for (const start of starts) {
    const frame = ({ ">": "send", "<": "receive" } as const)[start as ">" | "<"];
    const isThere = steps.some(({ kind, text }) =>
      frame === undefined
        ? kind === "command" && text.replace(ASSIGNMENTS, "").startsWith(start)
        : kind === frame
    );
    assert.ok(isThere, `the section shows no ${start} step any more`);
  }
}

/** Types `step`'s command in `shell`, with its ports put right, and asserts that it exits 0
 * and prints what the docs show. A curl GET reads state that a frame typed just before may not
 * have reached yet, so it is run again until it shows that, for a bounded time. */
export async function runShown(shell: Shell, step: DocStep, session: DocSession): Promise<void> {
  const command = session.resolve(step.text, step.where);
  let ran = await shell.run(command);
  if (/^curl\s/.test(command) && !/\s(-X|-d|--data\S*)\s/.test(command)) {
    await until(
      async () => {
        if (session.matches(step.output, ran.stdout)) return true;
        ran = await shell.run(command);
        return false;
      },
      `${step.where} to show what the docs show`,
      WAIT_MS,
    ).catch(() => {
      // The comparison below says what differs.
    });
  }
  assert.equal(ran.code, 0, `${step.where}: ${command} exited with ${ran.code}: ${ran.stderr}`);
  session.expect(step.output, ran.stdout, step.where);
}

/** Runs `[NAME=value ...] deno task start ARGS` as the test suite starts main.ts (`deno run`
 * with the task's flags), with those variables, on free ports, which then stand for the
 * documented ones (or the defaults); its banner must be the one shown, if one is. The process
 * goes on `stack`. */
async function startNode(
  step: DocStep,
  session: DocSession,
  { cwd, stack }: { cwd: string; stack: AsyncDisposableStack },
): Promise<void> {
  const words = await shellWords(step.text, { cwd });
  const start = words.findIndex((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  const env = Object.fromEntries(words.slice(0, start).map((word) => word.split(/=(.*)/s, 2)));
  assert.deepEqual(words.slice(start, start + 3), ["deno", "task", "start"], step.where);
  const args = words.slice(start + 3);
  const documented = new Map([
    ["--api-port", DEFAULT_CONFIG.apiPort],
    ["--ws-port", DEFAULT_CONFIG.wsPort],
  ]);
  for (const flag of documented.keys()) {
    const at = args.indexOf(flag);
    if (at < 0) {
      args.push(flag, "0");
    } else {
      documented.set(flag, Number(args[at + 1]));
      args[at + 1] = "0";
    }
  }
  const resolved = args.map((arg) => session.resolve(arg, step.where));
  const node = stack.use(await spawnBoreas(resolved, { cwd, env }));
  const banner = await node.linesUntil();
  const { apiPort, wsPort } = endpointsOf(banner);
  session.bindPort(documented.get("--api-port")!, apiPort);
  session.bindPort(documented.get("--ws-port")!, wsPort);
  if (step.output.length > 0) session.expect(step.output, banner.join("\n"), step.where);
}

/** Starts the test's own redis-server, on a free port that the documented one then stands for
 * (never the machine's Redis). */
async function startDocumentedRedis(step: DocStep, session: DocSession) {
  const match = /^redis-server --port (\d+)(?: --appendonly (yes|no))?$/.exec(step.text);
  assert.ok(match, `${step.where}: expected redis-server --port N [--appendonly yes|no]`);
  const redis = await startRedis({ appendOnly: match[2] === "yes" });
  session.bindPort(Number(match[1]), redis.port);
  return redis;
}

/** Runs a backend the docs start with `[NAME=value ...] deno run ... --port N`, from the
 * checkout, as written but on a free port, which N then stands for: the one its first line
 * (`Listening on http://127.0.0.1:PORT/`) names. What it prints first must be what the docs
 * show. The process goes on `stack`. */
async function startBackend(step: DocStep, session: DocSession, stack: AsyncDisposableStack) {
  const port = /\s--port (\d+)(?=\s|$)/.exec(step.text);
  assert.ok(port, `${step.where}: expected deno run ... --port N`);
  assert.ok(step.output.length > 0, `${step.where}: a backend shows the port it listens on`);
  const command = session.resolve(step.text.replace(port[0], " --port 0"), step.where);
  const backend = stack.use(new LiveCommand(command, { cwd: CHECKOUT, isStderrShown: true }));
  const printed = [];
  for (const line of step.output) printed.push(await backend.nextLine(`${step.where}: ${line}`));
  const real = /^Listening on http:\/\/[^/]+:(\d+)\//.exec(printed[0]!);
  assert.ok(real, `${step.where}: it printed ${JSON.stringify(printed[0])}`);
  session.bindPort(Number(port[1]), Number(real[1]));
  session.expect(step.output, printed.join("\n"), step.where);
}

/** A wsdump terminal's name in messages. */
function terminalName(terminal: string): string {
  return terminal === "" ? "the terminal" : `the terminal "${terminal}"`;
}

/** Runs `steps` as a reader would, in `cwd`: servers as they say, every other command in one
 * shell, and the frames typed at, and printed by, the last wsdump started in their block's
 * terminal (its `title`). Each wsdump must print nothing the steps do not show, by the end or
 * by the time another one starts in its terminal. */
export async function runAsDocumented(steps: readonly DocStep[], cwd: string): Promise<void> {
  const session = new DocSession();
  await using stack = new AsyncDisposableStack();
  const shell = stack.use(new Shell({ cwd }));
  const terminals = new Map<string, LiveCommand>();
  const wsdump = ({ terminal, where }: DocStep) => {
    const live = terminals.get(terminal);
    assert.ok(
      live,
      `${where}: a frame, but no wsdump started before it in ${terminalName(terminal)}`,
    );
    return live;
  };
  const assertEnded = async (terminal: string) => {
    const printed = await terminals.get(terminal)?.end() ?? [];
    assert.deepEqual(printed, [], `wsdump in ${terminalName(terminal)} printed more than shown`);
  };
  for (const step of steps) {
    const { kind, text, where } = step;
    const program = text.replace(ASSIGNMENTS, "");
    if (kind === "send") {
      await wsdump(step).type(session.resolve(text, where));
    } else if (kind === "receive") {
      session.expect([text], await wsdump(step).nextLine(`${where}: ${text}`), where);
    } else if (/^deno task start\b/.test(program)) {
      await startNode(step, session, { cwd, stack });
    } else if (/^deno run\s/.test(program)) {
      await startBackend(step, session, stack);
    } else if (/^redis-server\s/.test(text)) {
      stack.use(await startDocumentedRedis(step, session));
    } else if (/^wsdump\s/.test(text)) {
      await assertEnded(step.terminal);
      const live = stack.use(new LiveCommand(session.resolve(text, where), { prompt: "> " }));
      terminals.set(step.terminal, live);
      for (const line of step.output) {
        session.expect([line], await live.nextLine(`${where}: ${line}`), where);
      }
    } else {
      await runShown(shell, step, session);
    }
  }
  for (const terminal of terminals.keys()) await assertEnded(terminal);
}
