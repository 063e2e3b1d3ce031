/**
 * Laravel Echo (with pusher-js as its client) against Boreas, as a Laravel front end uses it:
 * `listen` on private channels, `here`, `joining` and `leaving` on presence channels, and
 * `whisper`; its authorizer calls a real local auth endpoint signed with the `pusher` SDK, as
 * Laravel's `/broadcasting/auth` does. On one node and across two.
 */

import assert from "node:assert/strict";
import Echo from "laravel-echo";
import PusherJsModule from "pusher-js";
import { startNode, untilNodesSee } from "./cluster_helpers.ts";
import { type TestServer, withTimeout } from "./helpers.ts";
import { startRedis } from "./redis_server.ts";
import { APP, serverSdk, startPusherServer, untilState } from "./pusher_helpers.ts";

// pusher-js's Node build exports its class as the module itself; its types call it `default`.
const PusherJs = PusherJsModule as unknown as typeof PusherJsModule.default;

/** Who is who: the auth endpoint's users, by the id a client says it is. */
const USERS: Record<string, { name: string }> = { "1": { name: "Ada" }, "2": { name: "Bob" } };

/** A tiny `/broadcasting/auth`: the user is the `X-User` header (Laravel's session, here), the
 * signature the real SDK's. Presence channels get the user's id (a number, as Laravel sends)
 * and info. */
function startAuthEndpoint() {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const form = new URLSearchParams(await request.text());
    const socketId = form.get("socket_id") ?? "";
    const channel = form.get("channel_name") ?? "";
    const user = request.headers.get("x-user") ?? "";
    if (USERS[user] === undefined) return new Response(null, { status: 403 });
    const presence = { "user_id": Number(user) as unknown as string, "user_info": USERS[user] };
    const signed = channel.startsWith("presence-")
      ? serverSdk(APP).authorizeChannel(socketId, channel, presence)
      : serverSdk(APP).authorizeChannel(socketId, channel);
    return Response.json(signed);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/broadcasting/auth`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** An Echo of user `user` on `server`, connected. Dispose it to disconnect. */
async function connectEcho(server: TestServer, authEndpoint: string, user: string) {
  const echo = new Echo({
    broadcaster: "pusher",
    key: APP.key,
    cluster: "",
    wsHost: "127.0.0.1",
    wsPort: server.wsAddr.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    // Its types want the module; at run time it takes the class, which is what the module is.
    Pusher: PusherJsModule,
    authEndpoint,
    auth: { headers: { "X-User": user } },
  });
  const pusher = echo.connector.pusher as InstanceType<typeof PusherJs>;
  await untilState(pusher, "connected");
  return Object.assign(echo, {
    async [Symbol.asyncDispose]() {
      if (pusher.connection.state === "disconnected") return;
      const disconnected = untilState(pusher, "disconnected");
      echo.disconnect();
      await disconnected;
    },
  });
}

/** A promise of the next call of the callback that `register` takes. */
function nextCall<T>(register: (callback: (value: T) => void) => void, what: string): Promise<T> {
  let resolve!: (value: T) => void;
  const called = new Promise<T>((r) => resolve = r);
  let isCalled = false;
  register((value) => {
    if (isCalled) return;
    isCalled = true;
    resolve(value);
  });
  return withTimeout(called, what);
}

type Member = { name: string };

async function runEchoStory(ada: TestServer, bob: TestServer, trigger: TestServer, auth: string) {
  await using adaEcho = await connectEcho(ada, auth, "1");
  await using bobEcho = await connectEcho(bob, auth, "2");

  // listen on a private channel: the backend's event, named as Laravel names it.
  const shipped = nextCall<unknown>(
    (callback) => adaEcho.private("orders.1").listen("OrderShipped", callback),
    "OrderShipped",
  );
  const subscribed = nextCall<unknown>(
    (callback) => adaEcho.private("orders.1").subscribed(callback),
    "the private subscription",
  );
  await subscribed;
  const response = await serverSdk(APP, trigger).trigger(
    "private-orders.1",
    "App\\Events\\OrderShipped",
    { order: { id: 1 } },
  );
  assert.equal(response.status, 200);
  await response.text();
  assert.deepEqual(await shipped, { order: { id: 1 } });

  // here, joining, whisper and leaving on a presence channel.
  const adaHere = nextCall<Member[]>(
    (callback) => adaEcho.join("chat").here(callback),
    "Ada's here",
  );
  assert.deepEqual(await adaHere, [{ name: "Ada" }]);
  const joining = nextCall<Member>(
    (callback) => adaEcho.join("chat").joining(callback),
    "Bob joining",
  );
  const bobHere = nextCall<Member[]>(
    (callback) => bobEcho.join("chat").here(callback),
    "Bob's here",
  );
  assert.deepEqual(
    (await bobHere).map(({ name }) => name).sort(),
    ["Ada", "Bob"],
  );
  assert.deepEqual(await joining, { name: "Bob" });
  const typing = nextCall<unknown>(
    (callback) => bobEcho.join("chat").listenForWhisper("typing", callback),
    "the whisper",
  );
  adaEcho.join("chat").whisper("typing", { name: "Ada" });
  assert.deepEqual(await typing, { name: "Ada" });
  const leaving = nextCall<Member>(
    (callback) => adaEcho.join("chat").leaving(callback),
    "Bob leaving",
  );
  bobEcho.leave("chat");
  assert.deepEqual(await leaving, { name: "Bob" });
}

Deno.test("laravel-echo: listen, here, joining, whisper and leaving", async () => {
  await using auth = startAuthEndpoint();
  await using server = await startPusherServer();
  await runEchoStory(server, server, server, auth.url);
});

Deno.test("cluster: laravel-echo on two nodes, the backend's trigger through either", async () => {
  await using auth = startAuthEndpoint();
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { pusherApps: [APP] });
  await using b = await startNode(redis.url, "b", { pusherApps: [APP] });
  await untilNodesSee([a, b]);
  await runEchoStory(a, b, b, auth.url);
});
