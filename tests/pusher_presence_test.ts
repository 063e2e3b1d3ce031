import assert from "node:assert/strict";
import { withTimeout } from "./helpers.ts";
import {
  APP,
  appUrl,
  connectPusherJs,
  nextEvent,
  RawPusher,
  serverSdk,
  startPusherServer,
} from "./pusher_helpers.ts";
import type { TestServer } from "./helpers.ts";

/** A pusher-js client whose presence authorizations name `userId` (with `name` as info), signed
 * by the real SDK. */
function member(server: TestServer, userId: string | number, name: string) {
  return connectPusherJs(
    server,
    APP,
    (socketId, channel) =>
      serverSdk(APP).authorizeChannel(socketId, channel, {
        // Laravel sends numbers; the SDK's types say strings.
        "user_id": userId as string,
        "user_info": { name },
      }),
  );
}

interface Members {
  count: number;
  me: { id: string } | null;
  each(callback: (member: { id: string; info: unknown }) => void): void;
}

function idsOf(members: Members): string[] {
  const ids: string[] = [];
  members.each(({ id }) => ids.push(id));
  return ids.sort();
}

Deno.test("presence: members, member_added and member_removed once per user, user_id on client events", async () => {
  await using server = await startPusherServer();
  await using alice = await member(server, 1, "Alice");
  const room = alice.subscribe("presence-room");
  await nextEvent(room, "pusher:subscription_succeeded");
  const members = (room as unknown as { members: Members }).members;
  assert.equal(members.count, 1);
  assert.equal(String(members.me?.id), "1");

  const bobAdded = nextEvent(room, "pusher:member_added");
  await using bob = await member(server, "b", "Bob");
  const bobRoom = bob.subscribe("presence-room");
  await nextEvent(bobRoom, "pusher:subscription_succeeded");
  assert.deepEqual(await bobAdded, { id: "b", info: { name: "Bob" } });
  assert.deepEqual(idsOf((bobRoom as unknown as { members: Members }).members), ["1", "b"]);

  // Bob's second connection adds no member; Carol's next member_added proves it.
  await using bobAgain = await member(server, "b", "Bob");
  const bobAgainRoom = bobAgain.subscribe("presence-room");
  await nextEvent(bobAgainRoom, "pusher:subscription_succeeded");
  const carolAdded = nextEvent(room, "pusher:member_added");
  await using carol = await member(server, "c", "Carol");
  const carolRoom = carol.subscribe("presence-room");
  await nextEvent(carolRoom, "pusher:subscription_succeeded");
  assert.deepEqual(await carolAdded, { id: "c", info: { name: "Carol" } });
  assert.equal(members.count, 3);

  const sdk = serverSdk(APP, server);
  const info = await sdk.get({ path: "/channels/presence-room", params: { info: "user_count" } });
  assert.deepEqual(await info.json(), { occupied: true, "user_count": 3 });
  const users = await (await sdk.get({ path: "/channels/presence-room/users" })).json();
  assert.deepEqual(users, { users: [{ id: "1" }, { id: "b" }, { id: "c" }] });

  // A client event on a presence channel names its sender.
  const whisper = new Promise<unknown>((resolve) =>
    carolRoom.bind(
      "client-hi",
      (_data: unknown, metadata: { user_id: string }) => resolve(metadata.user_id),
    )
  );
  room.trigger("client-hi", {});
  assert.equal(String(await withTimeout(whisper, "the client event")), "1");

  // Bob leaves only with his last connection: Carol's member_removed comes first.
  bob.unsubscribe("presence-room");
  await bob[Symbol.asyncDispose]();
  const carolRemoved = nextEvent(room, "pusher:member_removed");
  carol.unsubscribe("presence-room");
  assert.deepEqual(await carolRemoved, { id: "c", info: { name: "Carol" } });
  const bobRemoved = nextEvent(room, "pusher:member_removed");
  bobAgain.disconnect();
  assert.deepEqual(await bobRemoved, { id: "b", info: { name: "Bob" } });
  assert.deepEqual(idsOf(members), ["1"]);
});

Deno.test("presence: a forged channel_data gets subscription_error", async () => {
  await using server = await startPusherServer();
  const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
  await using _client = client;
  const { auth, channel_data: channelData } = serverSdk(APP).authorizeChannel(
    socketId,
    "presence-room",
    { "user_id": "1" },
  );
  client.send({
    event: "pusher:subscribe",
    data: { channel: "presence-room", auth, "channel_data": channelData!.replace('"1"', '"2"') },
  });
  const refused = await client.next("the refusal");
  assert.equal(refused.event, "pusher:subscription_error");
  assert.equal((refused.data as { status: number }).status, 401);
  client.send({
    event: "pusher:subscribe",
    data: { channel: "presence-room", auth, "channel_data": channelData },
  });
  const accepted = await client.next("the success");
  assert.equal(accepted.event, "pusher_internal:subscription_succeeded");
  assert.deepEqual(JSON.parse(accepted.data as string), {
    presence: { ids: ["1"], hash: { "1": null }, count: 1 },
  });
});

Deno.test("presence: a numeric user_id is a string in a client event's user_id", async () => {
  await using server = await startPusherServer();
  const join = async (userId: number) => {
    const { client, socketId } = await RawPusher.established(appUrl(server, APP.key));
    const signed = serverSdk(APP).authorizeChannel(socketId, "presence-room", {
      "user_id": userId as unknown as string,
    });
    client.send({
      event: "pusher:subscribe",
      data: { channel: "presence-room", ...signed },
    });
    await client.next("the success", "pusher_internal:subscription_succeeded");
    return client;
  };
  await using seven = await join(7);
  await using eight = await join(8);
  await seven.next("eight's arrival", "pusher_internal:member_added");
  seven.send({ event: "client-hi", channel: "presence-room", data: { a: 1 } });
  const frame = await eight.next("the client event", "client-hi");
  assert.equal(
    frame.text,
    '{"event":"client-hi","channel":"presence-room","data":{"a":1},"user_id":"7"}',
  );
});
