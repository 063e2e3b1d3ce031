import assert from "node:assert/strict";
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

Deno.test("a client event on a private-encrypted- channel is refused with 4301, never relayed", async () => {
  await using server = await startPusherServer();
  const channel = "private-encrypted-vault";
  const join = async () => {
    const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
    const { auth } = serverSdk(APP, undefined, { encrypted: true }).authorizeChannel(
      socketId,
      channel,
    );
    assert.equal(
      (await client.subscribe(channel, auth)).event,
      "pusher_internal:subscription_succeeded",
    );
    return client;
  };
  await using sender = await join();
  await using other = await join();
  sender.send({ event: "client-secret", channel, data: { plain: "text" } });
  assert.deepEqual((await sender.next("the refusal")).data, {
    code: 4301,
    message: "client-secret: client events are not allowed on private-encrypted- channels",
  });
  // Still open, and the other subscriber got nothing before this answer.
  other.send({ event: "pusher:ping", data: {} });
  assert.equal((await other.next("pong")).event, "pusher:pong");
  sender.send({ event: "pusher:ping", data: {} });
  assert.equal((await sender.next("pong")).event, "pusher:pong");
});
