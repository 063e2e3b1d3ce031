import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  closeClient,
  closeOf,
  countRecipients,
  EMPTY_RECIPIENT_DUMP,
  publish,
  readTokenList,
} from "./integration_helpers.ts";

Deno.test("several connections share one token and each receives its own channels", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, token, ["a", "both"]);
  await authenticateAndJoin(second, token, ["b", "both"]);
  await server.untilAuthenticated(token, 2);
  assert.deepEqual(await readTokenList(await server.api("/token/")), [token]);

  assert.equal(await publish(server, "a", "to a"), 1);
  assert.deepEqual(await first.next(), { message: "to a", channel: "a" });
  await assertNothingReceived(second);
  assert.equal(await publish(server, "b", "to b"), 1);
  assert.deepEqual(await second.next(), { message: "to b", channel: "b" });
  await assertNothingReceived(first);
  assert.equal(await publish(server, "both", "to both"), 2);
  assert.deepEqual(await first.next(), { message: "to both", channel: "both" });
  assert.deepEqual(await second.next(), { message: "to both", channel: "both" });

  // Closing one connection leaves the token in use by the other.
  await closeClient(second);
  await server.untilAuthenticated(token, 1);
  assert.deepEqual(await readTokenList(await server.api("/token/")), [token]);
  assert.equal(await publish(server, "both", "still"), 1);
  assert.deepEqual(await first.next(), { message: "still", channel: "both" });
});

Deno.test("a closed connection leaves every channel and the pool at once", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  await using anonymous = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, token, ["a", "b", "c"]);
  await server.untilConnections(2);

  await closeClient(client);
  await closeClient(anonymous);
  await server.untilConnections(0);
  const dump = await server.api("/debug/recipient-dump");
  assert.equal(await dump.text(), EMPTY_RECIPIENT_DUMP);
  assert.deepEqual(await readTokenList(await server.api("/token/")), []);
  assert.deepEqual(await readTokenList(await server.api("/a/token/")), []);
  for (const channel of ["a", "b", "c"]) assert.equal(await publish(server, channel, 1), 0);

  // The token itself stays valid: only the connection is gone.
  await using again = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(again, token, ["a"]);
  assert.equal(await countRecipients(server, "a"), 1);
});

Deno.test("each subscriber receives a channel's messages in publish order", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, token, ["feed"]);
  await authenticateAndJoin(second, token, ["feed"]);
  const count = 200;
  for (let n = 0; n < count; n++) assert.equal(await publish(server, "feed", { n }), 2);
  for (const client of [first, second]) {
    const received: unknown[] = [];
    for (let n = 0; n < count; n++) received.push(await client.next(`message ${n}`));
    assert.deepEqual(
      received,
      Array.from({ length: count }, (_, n) => ({ message: { n }, channel: "feed" })),
    );
    await assertNothingReceived(client);
  }
});

Deno.test("binary frames are ignored and the connection stays usable", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  // A binary frame carrying a valid, ref'd message: neither applied nor answered.
  const encode = (message: unknown) => new TextEncoder().encode(JSON.stringify(message));
  client.socket.send(encode({ access_token: token, ref: "binary" }));
  client.socket.send(new Uint8Array([0, 1, 2, 255]));
  await assertNothingReceived(client);
  assert.deepEqual(await readTokenList(await server.api("/token/")), []);

  await authenticateAndJoin(client, token);
  client.socket.send(encode({ channels: { join: ["news"], leave: [] } }));
  await assertNothingReceived(client);
  assert.equal(await countRecipients(server, "news"), 0);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  assert.equal(await publish(server, "news", "text"), 1);
  assert.deepEqual(await client.next(), { message: "text", channel: "news" });
});

Deno.test("with requireAuth false a connection is authenticated on open", async () => {
  await using server = await startTestServer({ requireAuth: false });
  await using client = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  assert.equal(server.hub.snapshot().anonymous, 0);
  assert.equal((await readTokenList(await server.api("/token/"))).length, 1);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  assert.equal(await publish(server, "news", "open"), 1);
  assert.deepEqual(await client.next(), { message: "open", channel: "news" });
});

Deno.test("shutdown closes every client with 1001 server shutting down", async () => {
  await using server = await startTestServer();
  await using anonymous = await TestClient.connect(server.wsUrl);
  await using subscriber = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(subscriber, await server.mintToken(), ["news"]);
  await server.untilConnections(2);
  await server.shutdown();
  const expected = { code: 1001, reason: "server shutting down" };
  assert.deepEqual(await closeOf(anonymous), expected);
  assert.deepEqual(await closeOf(subscriber), expected);
  assert.equal(server.hub.connectionCount, 0);
});
