/**
 * `terminate_connections` (the SDK's `terminateUserConnections`): every connection signed in as
 * the user closes with 4009, on one node and across two; other users' stay.
 */

import assert from "node:assert/strict";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
import { startNode, untilNodesSee } from "./cluster_helpers.ts";
import type { TestServer } from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import {
  APP,
  appUrl,
  connectPusherJs,
  RawPusher,
  serverSdk,
  startPusherServer,
  untilRefused,
} from "./pusher_helpers.ts";

/** A raw connection to `server` signed in as `id`, once `pusher:signin_success` came. */
async function signedIn(server: TestServer, id: string): Promise<RawPusher> {
  const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
  const { auth, user_data: userData } = serverSdk(APP).authenticateUser(socketId, { id });
  client.send({ event: "pusher:signin", data: { auth, "user_data": userData } });
  await client.next("the sign-in's answer", "pusher:signin_success");
  return client;
}

/** A pusher-js client of `server` signed in as `id`, once its user channel is joined. */
async function signedInPusherJs(server: TestServer, id: string) {
  const client = await connectPusherJs(server, APP, undefined, { user: { id } });
  client.signin();
  await server.untilMembers(pusherHubChannel(APP, `#server-to-user-${id}`), 1);
  return client;
}

async function terminate(through: TestServer, user: string): Promise<void> {
  const response = await serverSdk(APP, through).terminateUserConnections(user);
  assert.deepEqual([response.status, await response.json()], [200, {}]);
}

Deno.test("terminateUserConnections closes the user's connections with 4009, and no one else's", async () => {
  await using server = await startPusherServer();
  await using raw = await signedIn(server, "u1");
  await using pusherJs = await signedInPusherJs(server, "u1");
  await using other = await signedIn(server, "u2");
  await using anonymous = await connectPusherJs(server, APP);
  const closed = untilRefused(pusherJs);
  await terminate(server, "u1");
  const error = await raw.next("the error before the close", "pusher:error");
  assert.equal((error.data as { code: number }).code, 4009);
  assert.equal((await raw.closed).code, 4009);
  await closed;
  // Still open: the other user's and the connection that never signed in.
  other.send({ event: "pusher:ping", data: {} });
  assert.equal((await other.next("the pong", "pusher:pong")).event, "pusher:pong");
  assert.equal(anonymous.connection.state, "connected");
  // Nobody left to close: still 200.
  await terminate(server, "u1");
});

Deno.test("terminate_connections: a user id is 1-200 characters, and the request is signed", async () => {
  await using server = await startPusherServer();
  // The SDK checks ids itself; its post() signs anything, and throws on a status not 2xx.
  await assert.rejects(
    serverSdk(APP, server).post({
      path: `/users/${"x".repeat(201)}/terminate_connections`,
      body: "{}",
    }),
    (error: { status: number; body: string }) => {
      assert.equal(error.status, 400);
      assert.match(error.body, /user_id: expected 1-200 characters/);
      return true;
    },
  );
  const unsigned = await server.api(`/apps/${APP.id}/users/u1/terminate_connections`, {
    method: "POST",
    body: "{}",
  });
  assert.equal(unsigned.status, 401);
  await unsigned.body?.cancel();
});

Deno.test("cluster: terminateUserConnections through one node closes the user's connections on both", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await using onA = await signedIn(a, "u1");
  await using onB = await signedInPusherJs(b, "u1");
  await using other = await signedIn(b, "u2");
  const closed = untilRefused(onB);
  await terminate(a, "u1");
  assert.equal((await onA.closed).code, 4009);
  await closed;
  other.send({ event: "pusher:ping", data: {} });
  assert.equal((await other.next("the pong", "pusher:pong")).event, "pusher:pong");
});
