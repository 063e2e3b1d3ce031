/**
 * @module
 * The startup banner, line for line as the original Boreas printed it, and the warnings that
 * follow it. Pure: main.ts prints.
 */

import type { Config } from "./config.ts";
import { isLoopback } from "./host_check.ts";

/** The lines printed before the listeners start. */
export function bannerStart(options: {
  provider: string;
  tokenCount: number;
  debug: boolean;
  debugPaths: readonly string[];
  /** Cluster mode's line, shown after `Configuring servers...`; absent standalone. */
  cluster?: string | undefined;
}): string[] {
  const lines = [
    `Using \`${options.provider}\` to get authentication tokens...`,
    `Done. Loaded ${options.tokenCount} tokens.`,
    "Configuring servers...",
  ];
  if (options.cluster !== undefined) lines.push(options.cluster);
  if (options.debug) {
    lines.push("Running in debug mode. Available debug urls are:");
    for (const path of options.debugPaths) lines.push(`\t- ${path}`);
  }
  return lines;
}

/** The lines printed once both listeners are bound, with `host:port` as bound. */
export function bannerListening(api: string, ws: string): string[] {
  return [
    `API endpoint configured to listen on ${api}`,
    `WebSocket endpoint configured to listen on ${ws}`,
    "Running...",
  ];
}

/** The warning printed when connections need no token. */
export const NO_AUTH_WARNING =
  "Authentication is disabled (--no-require-auth): every connection is authenticated as it opens";

/** Warnings about a configuration that exposes more than it should, printed at startup. */
export function startupWarnings(
  config: Pick<
    Config,
    "apiHost" | "wsHost" | "apiKey" | "debug" | "requireAuth" | "allowedOrigins"
  >,
): string[] {
  const warnings: string[] = [];
  if (!config.requireAuth) warnings.push(NO_AUTH_WARNING);
  if (!isLoopback(config.apiHost)) {
    if (config.apiKey.length === 0) {
      warnings.push(
        `The API listens on ${config.apiHost} without an API key: anyone who can reach it ` +
          "can mint tokens and publish (set --api-key)",
      );
    }
    if (config.debug) {
      warnings.push(
        `Debug mode is on and the API listens on ${config.apiHost}: /debug/token-dump lists ` +
          "every token (set --no-debug)",
      );
    }
  }
  const exposed = [config.apiHost, config.wsHost].find((host) => !isLoopback(host));
  if (exposed !== undefined && config.allowedOrigins.length === 0) {
    warnings.push(
      `Boreas listens on ${exposed} and any website may open a WebSocket to it from a visitor's ` +
        "browser (set --allowed-origins)",
    );
  }
  return warnings;
}
