/**
 * @module
 * The HTTP API: every resource's routes behind one router, and the API key check.
 */

import { ApiKeyCheck } from "./api_key.ts";
import { broadcastRoutes } from "./broadcast.ts";
import type { ApiContext } from "./context.ts";
import { debugRoutes } from "./debug.ts";
import { operationsRoutes } from "./operations.ts";
import { createRouter, type RequestHandler } from "./router.ts";
import { tokenRoutes } from "./tokens.ts";

/** Builds the API's request handler. Broadcast comes first: it is the busiest route. */
export function createApi(context: ApiContext): RequestHandler {
  const keys = new ApiKeyCheck(context.apiKeys);
  return createRouter(
    [
      ...broadcastRoutes(context),
      ...tokenRoutes(context),
      ...operationsRoutes(context),
      ...debugRoutes(context),
    ],
    { logger: context.logger, authorize: (request) => keys.verify(request) },
  );
}
