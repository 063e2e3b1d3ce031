/**
 * `private-encrypted-` channels with the real packages: the pusher SDK encrypts with its master
 * key, pusher-js decrypts with the shared secret of its authorization, and the server, which
 * holds no key, passes the sealed payload untouched and refuses plaintext client events.
 */
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

Deno.test("pusher-js decrypts a trigger on a private-encrypted- channel; the server passes it untouched", async () => {
  await using server = await startPusherServer();
  const sdk = serverSdk(APP, server, { encrypted: true });
  await using client = await connectPusherJs(
    server,
    APP,
    (socketId, channel) => sdk.authorizeChannel(socketId, channel),
  );
  const channel = "private-encrypted-vault";
  const vault = client.subscribe(channel);
  await nextEvent(vault, "pusher:subscription_succeeded");
  // A raw subscriber sees the ciphertext the SDK sent: the server never holds the key.
  const { client: raw, socketId } = await RawPusher.established(appUrl(server, APP.key));
  await using _raw = raw;
  const { auth } = sdk.authorizeChannel(socketId, channel);
  assert.equal(
    (await raw.subscribe(channel, auth)).event,
    "pusher_internal:subscription_succeeded",
  );
  const opened = nextEvent(vault, "opened");
  await sdk.trigger(channel, "opened", { secret: "42" });
  assert.deepEqual(await opened, { secret: "42" });
  const frame = await raw.next("the encrypted event", "opened");
  const sealed = JSON.parse(frame.data as string) as Record<string, unknown>;
  assert.deepEqual(Object.keys(sealed).sort(), ["ciphertext", "nonce"]);
});
