import assert from "node:assert/strict";
import {
  APP,
  appUrl,
  connectPusherJs,
  nextEvent,
  RawPusher,
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
