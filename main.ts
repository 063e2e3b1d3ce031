/**
 * @module
 * The `boreas` command: reads options, loads tokens, starts the server, prints the banner and
 * runs until SIGINT or SIGTERM; or runs one of the API helper commands (`boreas token create`).
 * Exit codes: 0 after a clean shutdown, 1 when a listener cannot start or the API answers an
 * error, 2 for a bad option or argument.
 */

import denoJson from "./deno.json" with { type: "json" };
import { DEBUG_PATHS } from "./src/api/debug.ts";
import { bannerListening, bannerStart, startupWarnings } from "./src/banner.ts";
import {
  CONFIG_ENV_NAMES,
  ConfigError,
  helpText,
  loadConfig,
  requestedInfo,
} from "./src/config.ts";
import { CommandError, commandsHelp, isCommand, runCommand } from "./src/commands.ts";
import { clusterBanner } from "./src/backend/redis_target.ts";
import { generateNodeId } from "./src/backend/compose.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { hostPort } from "./src/address.ts";
import { ListenError, startServer } from "./src/server.ts";
import { loadStartupTokens } from "./src/token_sources.ts";
import { errorMessage } from "./src/text.ts";

async function main(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const stdio = createLogger();
  if (isCommand(args)) {
    return await runCommand(args, env, { logger: stdio }).catch((error) => report(error, stdio));
  }
  const info = requestedInfo(args);
  if (info !== null) {
    stdio.print(
      info === "help" ? `${helpText()}\n\n${commandsHelp()}` : `boreas ${denoJson.version}`,
    );
    return 0;
  }
  // Listening from the start, so a signal sent as soon as "Running..." shows is not fatal.
  using stop = listenForStopSignal();
  try {
    const loaded = loadConfig(args, env);
    // Resolved here, so that the banner and the node agree on it.
    const nodeId = loaded.nodeId ?? generateNodeId();
    const config = Object.freeze({ ...loaded, nodeId });
    const logger = createLogger({
      level: config.logLevel,
      format: config.logFormat,
      output: config.logOutput,
    });
    const { provider, tokens, journal, skippedLines, grants, blocks } = await loadStartupTokens(
      config,
    );
    await using _journal = journal;
    const { debug } = config;
    const tokenCount = tokens.length;
    const cluster = clusterBanner(config, nodeId);
    bannerStart({ provider, tokenCount, debug, debugPaths: DEBUG_PATHS, cluster })
      .forEach((line) => logger.print(line));
    if (skippedLines > 0) {
      logger.warn("token store: skipped torn or malformed lines", { lines: skippedLines });
    }
    startupWarnings(config).forEach((warning) => logger.warn(warning));

    const server = await startServer(config, { logger, tokens, journal, grants, blocks });
    const api = hostPort(server.apiAddr.hostname, server.apiAddr.port);
    const ws = hostPort(server.wsAddr.hostname, server.wsAddr.port);
    bannerListening(api, ws).forEach((line) => logger.print(line));

    const signal = await stop.received;
    logger.info("shutting down", { signal, timeoutSeconds: config.shutdownTimeout });
    await server.shutdown();
    return 0;
  } catch (error) {
    return report(error, stdio);
  }
}

function report(error: unknown, logger: Logger): number {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) logger.printError(`boreas: ${problem}`);
    return 2;
  }
  if (error instanceof CommandError) {
    logger.printError(`boreas: ${error.message}`);
    return error.exitCode;
  }
  if (error instanceof ListenError) {
    logger.printError(`boreas: ${error.message}`);
    return 1;
  }
  logger.printError(`boreas: unexpected error: ${errorMessage(error)}`);
  return 1;
}

/** The first SIGINT or SIGTERM (SIGBREAK on Windows) from now on; disposing it stops
 * listening. */
function listenForStopSignal(): { received: Promise<Deno.Signal> } & Disposable {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  let handlers: Array<() => void> = [];
  const received = new Promise<Deno.Signal>((resolve) => {
    handlers = signals.map((signal) => () => resolve(signal));
  });
  signals.forEach((signal, i) => Deno.addSignalListener(signal, handlers[i]!));
  return {
    received,
    [Symbol.dispose]: () =>
      signals.forEach((signal, i) => Deno.removeSignalListener(signal, handlers[i]!)),
  };
}

if (import.meta.main) {
  const env = Object.fromEntries(CONFIG_ENV_NAMES.map((name) => [name, Deno.env.get(name)]));
  Deno.exit(await main(Deno.args, env));
}
