/**
 * @module
 * Pusher's REST API, for the backends' SDKs: one router of the app routes, served on both
 * listeners (`/apps/...`). Each route checks its request's signature; neither `--api-key` nor
 * the `Host` check applies to them.
 */

import type { Broker } from "../../backend/broker.ts";
import type { EventCache } from "../../backend/event_cache.ts";
import type { Membership } from "../../backend/membership.ts";
import type { Logger } from "../../log.ts";
import type { Metrics } from "../../metrics.ts";
import type { PusherApps } from "../../session/pusher_apps.ts";
import type { Members } from "../../backend/members.ts";
import { createRouter, type RequestHandler } from "../router.ts";
import { channelRoutes } from "./channels.ts";
import { eventRoutes } from "./events.ts";
import { userRoutes } from "./users.ts";
import type { UserControl } from "../../backend/users.ts";

/** What Pusher's REST API needs. */
export interface PusherApiContext {
  readonly apps: PusherApps;
  readonly broker: Broker;
  /** Where a `cache-` channel's last event is kept. */
  readonly cache: EventCache;
  readonly membership: Membership;
  /** The presence channels' members, across the cluster. */
  readonly members: Members;
  /** Closing users' connections on every node, for `terminate_connections`. */
  readonly users: UserControl;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly maxBodyBytes: number;
  readonly bodyTimeout: number;
  /** The clock signatures' timestamps are checked against; default `Date.now`. */
  readonly now?: () => number;
}

/** Whether `pathname` belongs to Pusher's REST API. */
export function isPusherApiPath(pathname: string): boolean {
  return pathname.startsWith("/apps/");
}

/** Builds the REST API's request handler. */
export function createPusherApi(context: PusherApiContext): RequestHandler {
  const full = { now: Date.now, ...context };
  return createRouter([...eventRoutes(full), ...channelRoutes(full), ...userRoutes(full)], {
    logger: context.logger,
  });
}

/** `handler`, with Pusher's REST API answering its paths when `pusherApi` is given. */
export function withPusherApi(
  handler: RequestHandler,
  pusherApi: RequestHandler | undefined,
): RequestHandler {
  if (pusherApi === undefined) return handler;
  return (request) =>
    isPusherApiPath(new URL(request.url).pathname) ? pusherApi(request) : handler(request);
}
