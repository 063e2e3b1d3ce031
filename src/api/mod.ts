/**
 * @module
 * The HTTP API: every resource's routes behind one router, and the check of who may use them:
 * the API key, or without one the `Host` check (DNS rebinding).
 */

import { BackendUnavailableError } from "../backend/errors.ts";
import { dashboardRoutes } from "../dashboard/mod.ts";
import { ApiKeyCheck } from "./api_key.ts";
import { broadcastRoutes } from "./broadcast.ts";
import { channelRoutes } from "./channels.ts";
import type { ApiContext } from "./context.ts";
import { debugRoutes } from "./debug.ts";
import { historyRoutes } from "./history.ts";
import { presenceRoutes } from "./presence.ts";
import { operationsRoutes } from "./operations.ts";
import { HostCheck } from "../host_check.ts";
import { HttpError } from "./response.ts";
import { createRouter, type RequestHandler, type Route } from "./router.ts";
import { tokenRoutes } from "./tokens.ts";
import { userRoutes } from "./users.ts";

/** Builds the API's request handler. Broadcast comes first: it is the busiest route. */
export function createApi(context: ApiContext): RequestHandler {
  const keys = new ApiKeyCheck(context.apiKeys);
  const hosts = new HostCheck(context.allowedHosts);
  // A key proves the caller is no page that merely rebound a name to this machine.
  const authorize = context.apiKeys.length > 0
    ? (request: Request) => keys.verify(request)
    : (request: Request) => {
      const refusal = hosts.refusal(request);
      if (refusal !== undefined) throw new HttpError(403, refusal);
    };
  return createRouter(
    [
      ...broadcastRoutes(context),
      ...tokenRoutes(context),
      ...historyRoutes(context),
      ...presenceRoutes(context),
      // After the token routes: `GET /users/token/` stays the seed's list of the channel `users`.
      ...userRoutes(context),
      ...channelRoutes(context),
      ...operationsRoutes(context),
      ...debugRoutes(context),
      ...dashboardRoutes(context.dashboard),
    ].map((route) => answeringRedisFailures(route, { isDetailShown: context.apiKeys.length > 0 })),
    {
      logger: context.logger,
      authorize,
      corsOrigins: context.corsOrigins,
    },
  );
}

/** `route`, answering 503 when the cluster's Redis cannot do what it needs. The failure's
 * detail (addresses, Redis's own words) is shown only when `isDetailShown`: to callers that
 * had to present the API key. */
function answeringRedisFailures(
  route: Route,
  { isDetailShown }: { isDetailShown: boolean },
): Route {
  const { handler } = route;
  const answeringFailure = (error: unknown): never => {
    if (error instanceof BackendUnavailableError) {
      const shown = isDetailShown && !route.isPublic ? error.message : error.reason;
      throw new HttpError(503, shown);
    }
    throw error;
  };
  return {
    ...route,
    // Not an async function: on the busiest route, one promise fewer a request.
    handler: (context) => {
      try {
        const answer = handler(context);
        return answer instanceof Promise ? answer.catch(answeringFailure) : answer;
      } catch (error) {
        return answeringFailure(error);
      }
    },
  };
}
