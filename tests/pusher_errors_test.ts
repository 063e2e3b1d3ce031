import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  APP,
  appUrl,
  connectPusherJs,
  nextEvent,
  RawPusher,
  serverSdk,
  startPusherServer,
} from "./pusher_helpers.ts";

Deno.test("pusher-js hears pusher:subscription_error for a bad channel name, and stays", async () => {
  await using server = await startPusherServer();
  await using client = await connectPusherJs(server, APP);
  const refused = client.subscribe("orders and more");
  const error = await nextEvent(refused, "pusher:subscription_error") as Record<string, unknown>;
  assert.deepEqual(error, {
    type: "InvalidChannel",
    error: "pusher:subscribe: channel: expected characters of A-Z a-z 0-9 _ - = @ , . ;",
    status: 400,
  });
  assert.equal(client.connection.state, "connected");
  await nextEvent(client.subscribe("orders"), "pusher:subscription_succeeded");
});

Deno.test("a subscription to a too long channel name names the channel in its error", async () => {
  await using server = await startPusherServer();
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const channel = "a".repeat(165);
  const frame = await client.subscribe(channel);
  assert.equal(frame.event, "pusher:subscription_error");
  assert.equal(frame.channel, channel);
  assert.deepEqual(frame.data, {
    type: "InvalidChannel",
    error: "pusher:subscribe: channel: expected at most 164 characters",
    status: 400,
  });
});

Deno.test("a bad pusher:signin gets pusher:error 4009 and the connection stays open", async () => {
  await using server = await startPusherServer();
  const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const { auth, user_data: userData } = serverSdk(APP).authenticateUser(socketId, { id: "u1" });
  client.send({ event: "pusher:signin", data: { auth: `${auth}0`, "user_data": userData } });
  assert.deepEqual((await client.next("the refusal")).data, {
    code: 4009,
    message: "pusher:signin: invalid signature",
  });
  // Signed right, but naming no id: the SDK would not sign it, so signed here as it signs.
  const noIdData = '{"name":"x"}';
  const noIdAuth = createHmac("sha256", APP.secret).update(`${socketId}::user::${noIdData}`)
    .digest("hex");
  const noId = { auth: `${APP.key}:${noIdAuth}`, "user_data": noIdData };
  client.send({ event: "pusher:signin", data: noId });
  assert.deepEqual((await client.next("the second refusal")).data, {
    code: 4009,
    message: "pusher:signin: user_data: expected a JSON object with an id",
  });
  // Still open, and not signed in: its own user channel is refused.
  const refused = await client.subscribe("#server-to-user-u1");
  assert.equal(refused.event, "pusher:subscription_error");
  client.send({ event: "pusher:signin", data: { auth, "user_data": userData } });
  assert.equal((await client.next("the success")).event, "pusher:signin_success");
});
