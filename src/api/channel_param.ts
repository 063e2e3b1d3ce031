/**
 * @module
 * Reads the `:channel` path parameter and applies the channel-name rules to it.
 */

import { channelNameProblem } from "../channel.ts";
import { HttpError } from "./response.ts";
import type { RouteContext } from "./router.ts";

/** The decoded `:channel` of the route; throws 400 when it is not a valid channel name. */
export function channelParam({ params }: RouteContext): string {
  const channel = params.channel ?? "";
  const problem = channelNameProblem(channel);
  if (problem !== null) throw new HttpError(400, `channel: ${problem}`);
  return channel;
}
