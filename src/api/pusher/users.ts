/**
 * @module
 * `POST /apps/{id}/users/{user_id}/terminate_connections` (the SDKs'
 * `terminateUserConnections`): closes every connection signed in as that user, on every node,
 * with Pusher's 4009. It is the native user control's disconnect, of the name the hub gives the
 * app's user (see `pusherHubUser`).
 */

import type { UserControl } from "../../backend/users.ts";
import { pusherHubUser } from "../../session/pusher_apps.ts";
import { HttpError, jsonResponse } from "../response.ts";
import type { Route } from "../router.ts";
import { readSignedRequest, type SigningContext } from "./signed.ts";

/** The longest user id, in characters. */
const MAX_USER_ID_LENGTH = 200;

/** What the user routes need. */
export interface UsersContext extends SigningContext {
  /** Closing users' connections on every node. */
  readonly users: UserControl;
}

/** The user routes. */
export function userRoutes(context: UsersContext): Route[] {
  return [{
    method: "POST",
    path: "/apps/:id/users/:user/terminate_connections",
    handler: async (route) => {
      const { app } = await readSignedRequest(route, context);
      const user = route.params.user ?? "";
      if (user === "" || user.length > MAX_USER_ID_LENGTH) {
        throw new HttpError(400, `user_id: expected 1-${MAX_USER_ID_LENGTH} characters`);
      }
      await context.users.disconnect(pusherHubUser(app, user));
      return jsonResponse({});
    },
  }];
}
