/**
 * @module
 * The command-line helpers that talk to a running server's API, for scripts that would rather
 * not hand-write curl calls: `token create`, `token revoke TOKEN`, `publish CHANNEL JSON
 * [--dry-run]` and `healthcheck`. The server's address and API key come from the same options,
 * environment variables and config file as the server's own.
 */

import { BoreasApi, BoreasApiError } from "../client/mod.ts";
import { urlHost } from "./address.ts";
import { loadConfig, type LoadConfigOptions } from "./config.ts";
import type { Logger } from "./log.ts";
import { errorMessage } from "./text.ts";

/** How long a command waits for the server, in milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A command and its positional arguments, parsed from the front of the command line. */
interface CommandSpec {
  readonly name: string;
  readonly positionals: readonly string[];
  readonly usage: string;
}

const SPECS: readonly CommandSpec[] = [
  { name: "token create", positionals: [], usage: "boreas token create [options]" },
  { name: "token revoke", positionals: ["TOKEN"], usage: "boreas token revoke TOKEN [options]" },
  {
    name: "publish",
    positionals: ["CHANNEL", "JSON"],
    usage: "boreas publish CHANNEL JSON [--dry-run] [options]",
  },
  { name: "healthcheck", positionals: [], usage: "boreas healthcheck [options]" },
];

/** The commands' section of `--help`. */
export function commandsHelp(): string {
  return [
    "Commands, for scripts: they call a running server's API at --api-host and --api-port, with",
    "the first --api-key, read from the same flags, BOREAS_* variables and config file:",
    ...SPECS.map((spec) => `  ${spec.usage}`),
    "token create prints the new token, publish the number of recipients, healthcheck the",
    "server's status (exit 1 unless it is ok).",
  ].join("\n");
}

/** Whether `args` name a command rather than options for the server. */
export function isCommand(args: readonly string[]): boolean {
  return args[0] === "token" || args[0] === "publish" || args[0] === "healthcheck";
}

/** A command's failure: one line for the user, and the exit code (2: usage, 1: the server). */
export class CommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CommandError";
    this.exitCode = exitCode;
  }
}

/** Options of `runCommand`. */
export interface RunCommandOptions extends LoadConfigOptions {
  /** Prints the command's output. */
  readonly logger: Logger;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** Runs the command `args` names; resolves to the exit code. Throws `CommandError` for bad
 * arguments or an API error, and `ConfigError` (from config.ts) for bad options. */
export async function runCommand(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: RunCommandOptions,
): Promise<number> {
  const { logger, fetch: doFetch = fetch } = options;
  const spec = findSpec(args);
  const words = spec.name.split(" ").length;
  const positionals = args.slice(words, words + spec.positionals.length);
  if (positionals.length < spec.positionals.length || positionals.some(isFlag)) {
    throw new CommandError(`${spec.name}: expected ${spec.usage}`, 2);
  }
  const rest = args.slice(words + spec.positionals.length);
  const isDryRun = spec.name === "publish" && rest.includes("--dry-run");
  const optionArgs = isDryRun ? rest.filter((arg) => arg !== "--dry-run") : rest;
  const config = loadConfig(optionArgs, env, options);
  const url = `http://${urlHost(config.apiHost)}:${config.apiPort}`;
  const api = new BoreasApi({ url, apiKey: config.apiKey[0], fetch: doFetch });
  const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  try {
    switch (spec.name) {
      case "token create":
        logger.print(await api.createToken({ signal }));
        return 0;
      case "token revoke":
        await api.revokeToken(positionals[0]!, { signal });
        return 0;
      case "publish": {
        const payload = parsePayload(positionals[1]!);
        const dryRun = isDryRun;
        logger.print(String(await api.broadcast(positionals[0]!, payload, { dryRun, signal })));
        return 0;
      }
      default: {
        const { status, errors = [] } = await api.health({ signal });
        logger.print([status, ...errors].join(": "));
        return status === "ok" ? 0 : 1;
      }
    }
  } catch (error) {
    if (error instanceof CommandError) throw error;
    if (error instanceof BoreasApiError) {
      throw new CommandError(`${spec.name}: ${error.status} ${error.errors.join("; ")}`, 1);
    }
    throw new CommandError(`${spec.name}: cannot reach ${url}: ${errorMessage(error)}`, 1);
  }
}

function findSpec(args: readonly string[]): CommandSpec {
  const name = args[0] === "token" ? `token ${args[1] ?? ""}` : args[0] ?? "";
  const spec = SPECS.find((candidate) => candidate.name === name);
  if (spec === undefined) {
    throw new CommandError(`${name.trim()}: unknown command; expected one of: ${names()}`, 2);
  }
  return spec;
}

function names(): string {
  return SPECS.map((spec) => spec.name).join(", ");
}

function isFlag(arg: string): boolean {
  return arg.startsWith("--");
}

function parsePayload(json: string): unknown {
  try {
    const payload: unknown = JSON.parse(json);
    if (payload !== null) return payload;
  } catch {
    // Reported below.
  }
  throw new CommandError(`publish: JSON: expected a JSON value other than null, got ${json}`, 2);
}
