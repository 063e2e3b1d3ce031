import assert from "node:assert/strict";
import { BoreasSubscriber, BoreasSubscriberError } from "../client/mod.ts";
import { apiOf, nextMessage, subscriberOf } from "./client_helpers.ts";
import { startTestServer, withTimeout } from "./helpers.ts";

Deno.test("BoreasSubscriber.publish() reaches the other subscribers with the token's user", async () => {
  await using server = await startTestServer({ historySize: 10 });
  const api = apiOf(server);
  const aliceToken = await api.createToken({ user: "alice", publish: ["room:*"] });
  await using alice = subscriberOf(server, aliceToken, { channels: ["room:1"] });
  await using bob = subscriberOf(server, await api.createToken({ user: "bob" }), {
    channels: ["room:1"],
  });
  await withTimeout(Promise.all([alice.untilOpen(), bob.untilOpen()]), "both to open");
  const { offset } = await alice.publish("room:1", { text: "hi" });
  assert.equal(offset, 1);
  assert.deepEqual(await nextMessage(bob), {
    channel: "room:1",
    message: { text: "hi" },
    offset: 1,
    user: "alice",
  });
  // A broadcast after it is the next thing alice sees: her own publication never came back.
  await api.broadcast("room:1", "from the backend");
  assert.deepEqual(await nextMessage(alice), {
    channel: "room:1",
    message: "from the backend",
    offset: 2,
  });
});

Deno.test("BoreasSubscriber.publish() rejects with rejected when the token may not publish", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  await using reader = subscriberOf(server, await api.createToken(), { channels: ["room"] });
  await withTimeout(reader.untilOpen(), "the subscriber to open");
  const refusal = await reader.publish("room", "x").catch((error) => error);
  assert.ok(refusal instanceof BoreasSubscriberError, String(refusal));
  assert.equal(refusal.kind, "rejected");
  assert.equal(refusal.message, "publish: not permitted by this token");
  assert.equal(reader.state, "open", "a refused publication ends nothing");
});

Deno.test("BoreasSubscriber.publish() over SSE rejects: a stream cannot send", async () => {
  await using server = await startTestServer();
  const token = await apiOf(server).createToken({ publish: ["*"] });
  await using subscriber = new BoreasSubscriber({
    url: server.wsUrl,
    token,
    channels: ["room"],
    transport: "sse",
  });
  await withTimeout(subscriber.untilOpen(), "the stream to open");
  const refusal = await subscriber.publish("room", "x").catch((error) => error);
  assert.ok(refusal instanceof BoreasSubscriberError && refusal.kind === "rejected");
  assert.match(refusal.message, /SSE/);
});
