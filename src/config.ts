/**
 * @module
 * The server's configuration: every option with its default, read from flags, `BOREAS_*`
 * environment variables and a JSON file (flags > env > file > defaults), validated all at once.
 * Reads a file only through the injected `readFile`; starts nothing.
 */

import { parseArgs } from "node:util";
import {
  type Config,
  DEFAULT_CONFIG,
  envName,
  flagName,
  isProblem,
  LIST_KINDS,
  normalizeName,
  OPTIONS,
  parseBoolean,
  parseValue,
  specFlag,
} from "./config_options.ts";
import { errorMessage } from "./text.ts";

export { type Config, DEFAULT_CONFIG } from "./config_options.ts";

/** Every problem found in the configuration, one message each. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** The file read when neither `--config` nor `BOREAS_CONFIG` names one, if it exists. */
export const DEFAULT_CONFIG_FILE = "./boreas.json";

const SPEC_BY_FLAG = new Map(OPTIONS.map((spec) => [specFlag(spec), spec]));
// A config file names an option by its key (`pusherApps`), in any spelling.
const FILE_NAMES = new Set(OPTIONS.map((spec) => flagName(spec.key)));

/** Every environment variable `loadConfig` reads, so a caller can pass just those. */
export const CONFIG_ENV_NAMES: readonly string[] = [
  "BOREAS_CONFIG",
  ...OPTIONS.map((spec) => envName(spec.key)),
];

/** Options of `loadConfig`. */
export interface LoadConfigOptions {
  /** Reads a config file; returns `undefined` when it does not exist. Default: Deno's. */
  readFile?: (path: string) => string | undefined;
}

/** Builds the configuration from command-line `args`, environment `env` and the config file
 * they name (or `./boreas.json` when it exists). Throws one `ConfigError` listing every
 * problem. The result is frozen. */
export function loadConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions = {},
): Config {
  const { readFile = readFileIfExists } = options;
  const problems: string[] = [];
  const flags = readFlags(args, problems);
  const { config: configFlag, ...flagValues } = flags;
  const file = readConfigFile(configFlag ?? env.BOREAS_CONFIG, readFile, problems);

  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const given = new Set<keyof Config>();
  for (const spec of OPTIONS) {
    const flag = `--${specFlag(spec)}`;
    const sources: Array<[label: string, raw: unknown]> = [
      [flag, flagValues[specFlag(spec)]],
      [envName(spec.key), env[envName(spec.key)]],
      [`${file.label}: ${spec.key}`, file.values.get(flagName(spec.key))],
    ];
    const found = sources.find(([, raw]) => raw !== undefined);
    if (found === undefined) continue;
    given.add(spec.key);
    const [label, raw] = found;
    const parsed = parseValue(spec.kind, raw);
    if (isProblem(parsed)) {
      problems.push(`${label}: ${parsed.problem}`);
    } else {
      config[spec.key] = parsed;
    }
  }
  if (config.tokensFile !== null && config.tokensUrl !== null) {
    problems.push("--tokens-file and --tokens-url: expected one token provider, got both");
  }
  problems.push(...redisProblems(given, config.redisTls === true));
  if ((config.webhookUrl as string[]).length > 0 && config.webhookSecret === null) {
    problems.push("--webhook-url: expected --webhook-secret too, to sign the batches");
  }
  if (config.publishHookUrl !== null && config.webhookSecret === null) {
    problems.push("--publish-hook-url: expected --webhook-secret too, to sign the requests");
  }
  const jwtKeys = (["jwtSecret", "jwtPublicKey", "jwksUrl"] as const)
    .filter((key) => config[key] !== null);
  if (jwtKeys.length > 1) {
    const names = jwtKeys.map((key) => `--${flagName(key)}`).join(" and ");
    problems.push(`${names}: expected one JWT key, got ${jwtKeys.length}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config as unknown as Config);
}

/** What is wrong with the Redis options given (whether their values were valid or not),
 * taken together: one way to reach Redis, Sentinel's options only with Sentinel, and no token
 * store in cluster mode. */
function redisProblems(given: ReadonlySet<keyof Config>, isTls: boolean): string[] {
  const problems: string[] = [];
  const isSentinel = given.has("redisSentinel");
  const isCluster = given.has("redisCluster");
  const ways = (["redisUrl", "redisSentinel", "redisCluster"] as const).filter((key) =>
    given.has(key)
  );
  if (ways.length > 1) {
    problems.push(
      `${ways.map((key) => `--${flagName(key)}`).join(" and ")}: expected one of them, got ${
        ways.length === 2 ? "both" : "all three"
      }`,
    );
  }
  if (isSentinel && !given.has("redisSentinelMaster")) {
    problems.push("--redis-sentinel: expected --redis-sentinel-master too, naming the master");
  }
  for (const key of ["redisSentinelMaster", "redisSentinelPassword"] as const) {
    if (given.has(key) && !isSentinel) {
      problems.push(`--${flagName(key)}: expected --redis-sentinel too`);
    }
  }
  if (!isSentinel && !isCluster) {
    const credentials = [
      ["redisUsername", " (with --redis-url, in the URL: redis://USER:PASSWORD@host)"],
      ["redisPassword", " (with --redis-url, in the URL: redis://:PASSWORD@host)"],
      ["redisTls", " (with --redis-url, a rediss:// URL)"],
    ] as const;
    for (const [key, hint] of credentials) {
      // `--no-redis-tls` asks for nothing Sentinel or Cluster alone could give.
      if (!given.has(key) || (key === "redisTls" && !isTls)) continue;
      problems.push(`--${flagName(key)}: expected --redis-sentinel or --redis-cluster too${hint}`);
    }
  }
  if (given.has("tokenStore") && ways.length > 0) {
    problems.push(
      `--token-store and --${
        flagName(ways[0]!)
      }: expected one of them, got both (in cluster mode Redis holds the tokens)`,
    );
  }
  return problems;
}

/** Parses the flags into raw strings and booleans keyed by flag name (`api-port`), adding a
 * problem for each unknown flag, missing value or stray argument. */
function readFlags(
  args: readonly string[],
  problems: string[],
): Record<string, string | boolean | string[] | undefined> {
  const normalized = normalizeFlags(args, problems);
  const options: Record<string, { type: "string" | "boolean" }> = { config: { type: "string" } };
  for (const spec of OPTIONS) {
    options[specFlag(spec)] = { type: spec.kind === "boolean" ? "boolean" : "string" };
  }
  // Not strict: every problem is collected here instead of stopping at the first.
  const { tokens } = parseArgs({
    args: normalized,
    options,
    strict: false,
    tokens: true,
  });
  const values: Record<string, string | boolean | string[]> = {};
  for (const token of tokens) {
    if (token.kind === "positional") {
      problems.push(`${JSON.stringify(token.value)}: unexpected argument (see --help)`);
    } else if (token.kind === "option") {
      const type = options[token.name.replace(/^no-/, "")]?.type;
      const negated = options[token.name] === undefined && type === "boolean";
      if (type === undefined || (options[token.name] === undefined && !negated)) {
        problems.push(`${token.rawName}: unknown option (see --help)`);
      } else if (type === "boolean" && token.value !== undefined) {
        problems.push(`${token.rawName}: expected no value`);
      } else if (
        LIST_KINDS.has(SPEC_BY_FLAG.get(token.name)?.kind ?? "path")
      ) {
        // A repeated flag adds to the list instead of replacing it.
        const earlier = values[token.name];
        values[token.name] = [...(Array.isArray(earlier) ? earlier : []), token.value ?? ""];
      } else {
        values[negated ? token.name.slice(3) : token.name] = token.value ?? !negated;
      }
    }
  }
  return values;
}

/** Rewrites flags into what `parseArgs` takes without guessing: the original's `--api_port`
 * spellings into `--api-port`, `--debug=false` into `--no-debug`, and `--api-port 80` into
 * `--api-port=80`. A flag that needs a value is not given the next flag as one. */
function normalizeFlags(args: readonly string[], problems: string[]): string[] {
  const normalized: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      normalized.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith("--")) {
      normalized.push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = normalizeName(arg.slice(2, equals === -1 ? undefined : equals));
    const takesValue = name === "config" ||
      (SPEC_BY_FLAG.has(name) && SPEC_BY_FLAG.get(name)?.kind !== "boolean");
    if (equals !== -1) {
      const value = arg.slice(equals + 1);
      if (takesValue || SPEC_BY_FLAG.get(name)?.kind !== "boolean") {
        normalized.push(`--${name}=${value}`);
        continue;
      }
      const parsed = parseBoolean(value);
      if (typeof parsed !== "boolean") problems.push(`--${name}: ${parsed.problem}`);
      else normalized.push(parsed ? `--${name}` : `--no-${name}`);
    } else if (!takesValue) {
      normalized.push(`--${name}`);
    } else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) {
      normalized.push(`--${name}=${args[++i]}`);
    } else {
      problems.push(`--${name}: expected a value`);
    }
  }
  return normalized;
}

interface ConfigFile {
  readonly label: string;
  readonly values: ReadonlyMap<string, unknown>;
}

function readConfigFile(
  named: string | boolean | string[] | undefined,
  readFile: (path: string) => string | undefined,
  problems: string[],
): ConfigFile {
  const path = typeof named === "string" ? named : DEFAULT_CONFIG_FILE;
  const empty = { label: path, values: new Map() };
  if (path.trim() === "") {
    problems.push('--config: expected a file path, got ""');
    return { label: "--config", values: new Map() };
  }
  let text: string | undefined;
  try {
    text = readFile(path);
  } catch (error) {
    problems.push(`${path}: cannot read config file: ${errorMessage(error)}`);
    return empty;
  }
  if (text === undefined) {
    if (path !== DEFAULT_CONFIG_FILE) problems.push(`${path}: config file not found`);
    return empty;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The engine's message may quote the whole file, newlines and all: keep one line.
    problems.push(`${path}: expected a JSON config file, got text that is not valid JSON`);
    return empty;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    problems.push(`${path}: expected a JSON object of options`);
    return empty;
  }
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(parsed)) {
    const name = normalizeName(key);
    if (!FILE_NAMES.has(name)) problems.push(`${path}: ${key}: unknown option`);
    else if (values.has(name)) problems.push(`${path}: ${key}: option given twice`);
    else values.set(name, value);
  }
  return { label: path, values };
}

function readFileIfExists(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** What the command line asks for besides running: `--help`/`-h`, `--version`/`-V`, or
 * `null`. Checked before `loadConfig`, so that help works even next to a bad option. */
export function requestedInfo(args: readonly string[]): "help" | "version" | null {
  const end = args.indexOf("--");
  const flags = end === -1 ? args : args.slice(0, end);
  if (flags.includes("--help") || flags.includes("-h")) return "help";
  if (flags.includes("--version") || flags.includes("-V")) return "version";
  return null;
}

/** The `--help` text: every option with its default and environment variable. */
export function helpText(): string {
  const rows: Array<[string, string]> = [[
    "--config PATH",
    `JSON file of options (default: ${DEFAULT_CONFIG_FILE} when present; env: BOREAS_CONFIG)`,
  ]];
  for (const spec of OPTIONS) {
    const flag = specFlag(spec);
    const shown = spec.kind === "boolean"
      ? `--${flag}, --no-${flag}`
      : `--${flag} ${spec.placeholder}`;
    const fallback = DEFAULT_CONFIG[spec.key];
    const isUnset = fallback === null || (Array.isArray(fallback) && fallback.length === 0);
    const defaultText = isUnset ? "none" : String(fallback);
    rows.push([shown, `${spec.summary} (default: ${defaultText}; env: ${envName(spec.key)})`]);
  }
  rows.push(["--help, -h", "show this help and exit"]);
  rows.push(["--version, -V", "show the version and exit"]);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [
    "Usage: boreas [options]",
    "",
    "A WebSocket pub/sub server. Options may also be given as BOREAS_* environment variables",
    "or in a JSON config file (flags beat env, env beats the file, the file beats defaults).",
    "Underscore spellings (--api_port) and --flag=true/false are accepted too.",
    "",
    "Options:",
    ...rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`),
  ].join("\n");
}
