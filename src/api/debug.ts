/**
 * @module
 * The debug-mode routes: `/debug/token-dump` and `/debug/recipient-dump`, in the original
 * Boreas's plain-text formats.
 */

import type { HubSnapshot } from "../hub.ts";
import type { ApiContext } from "./context.ts";
import { textResponse } from "./response.ts";
import type { Route } from "./router.ts";

/** The debug routes' paths, as the startup banner lists them. */
export const DEBUG_PATHS = ["/debug/token-dump", "/debug/recipient-dump"] as const;

/** The debug routes, or none when debug mode is off (so they answer 404). */
export function debugRoutes({ cluster, debug }: ApiContext): Route[] {
  if (!debug) return [];
  return [
    {
      method: "GET",
      path: "/debug/token-dump",
      handler: async () =>
        textResponse((await cluster.tokens.all()).map((token) => `${token}\n`).join("")),
    },
    {
      method: "GET",
      path: "/debug/recipient-dump",
      handler: async () => textResponse(renderRecipientDump(await cluster.membership.snapshot())),
    },
  ];
}

/** Renders the original's `RECEIVER POOL REPORT`, including its exact white space. */
export function renderRecipientDump(snapshot: HubSnapshot): string {
  const section = (rows: HubSnapshot["tokens"], empty: string) =>
    rows.length === 0 ? `${empty}\n` : rows.map(([name, n]) => `\t - ${name}: ${n}\n`).join("");
  return "RECEIVER POOL REPORT\n" +
    `anonymous: ${snapshot.anonymous}\n` +
    "authenticated:\n" +
    section(snapshot.tokens, "\t---") +
    "channels:\n" +
    section(snapshot.channels, " \t---");
}
