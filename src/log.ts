/**
 * @module
 * The only module that writes to the console: the startup banner on stdout, log lines on
 * stderr. Everything else is handed a `Logger`, so tests can capture or silence it.
 */

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of `LOG_LEVELS`. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Extra facts attached to a log line, printed as `key=value`. */
export type LogFields = Record<string, string | number | boolean>;

/** Where Boreas says what it is doing. */
export interface Logger {
  /** Prints a line of the banner or of a command's output on stdout, whatever the level. */
  print(line: string): void;
  /** Prints a line on stderr as it is, whatever the level: a fatal problem for the user. */
  printError(line: string): void;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** How log lines are written: `text` is `LEVEL message key="value"`, `json` one object a line
 * with `time`, `level`, `message` and the fields. */
export type LogFormat = "text" | "json";

/** The log formats `--log-format` takes. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Which standard stream log lines go to. */
export type LogOutput = "stderr" | "stdout";

/** The streams `--log-output` takes. */
export const LOG_OUTPUTS: readonly LogOutput[] = ["stderr", "stdout"];

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Lines below this level are dropped. Default `"info"`. */
  level?: LogLevel;
  /** Default `"text"`. */
  format?: LogFormat;
  /** Where log lines go when `stderr` is not given. Default `"stderr"`. */
  output?: LogOutput;
  /** Receives stdout lines. Default `console.log`. */
  stdout?: (line: string) => void;
  /** Receives log lines. Default `console.error`. */
  stderr?: (line: string) => void;
  /** The clock for JSON timestamps. Default `Date.now`. */
  now?: () => number;
}

/** Creates a logger that writes log lines to stderr. Levels below `level` cost one call to a
 * no-op function: their fields are never rendered. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const {
    level = "info",
    format = "text",
    output = "stderr",
    // deno-lint-ignore no-console
    stdout = console.log,
    // deno-lint-ignore no-console
    stderr = output === "stdout" ? console.log : console.error,
    now = Date.now,
  } = options;
  const threshold = LOG_LEVELS.indexOf(level);
  const at = (lineLevel: LogLevel) => {
    if (LOG_LEVELS.indexOf(lineLevel) < threshold) return () => {};
    if (format === "json") {
      return (message: string, fields?: LogFields) =>
        stderr(JSON.stringify({
          time: new Date(now()).toISOString(),
          level: lineLevel,
          message,
          ...fields,
        }));
    }
    const label = lineLevel.toUpperCase();
    return (message: string, fields?: LogFields) =>
      stderr(fields === undefined ? `${label} ${message}` : `${label} ${message}${render(fields)}`);
  };
  return {
    print: (line) => stdout(line),
    printError: (line) => stderr(line),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}

/** A logger that drops everything, for tests and embedding. */
export function silentLogger(): Logger {
  return createLogger({ stdout: () => {}, stderr: () => {} });
}

function render(fields: LogFields): string {
  let text = "";
  for (const [key, value] of Object.entries(fields)) {
    text += typeof value === "string" ? ` ${key}=${JSON.stringify(value)}` : ` ${key}=${value}`;
  }
  return text;
}
