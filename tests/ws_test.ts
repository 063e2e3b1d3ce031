import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  countRecipients,
  publish,
  readErrors,
  readTokenList,
} from "./integration_helpers.ts";

/** Asserts `reply` is `{"ref": ref, "error": "<a message>"}`. */
function assertErrorReply(reply: unknown, ref: string | number): void {
  const { error, ...rest } = reply as { error?: unknown };
  assert.deepEqual(rest, { ref }, `reply ${JSON.stringify(reply)}`);
  assert.equal(typeof error, "string", `reply ${JSON.stringify(reply)}`);
  assert.notEqual(error, "");
}

Deno.test("the WebSocket endpoint answers 404 on another path and 426 without upgrade", async () => {
  await using server = await startTestServer();
  const httpUrl = server.wsUrl.replace(/^ws:/, "http:");
  await readErrors(await fetch(`${httpUrl}other`), 404);
  await readErrors(await fetch(`${httpUrl}other`, { headers: { upgrade: "websocket" } }), 404);
  await readErrors(await fetch(httpUrl), 426);
  await assert.rejects(TestClient.connect(`${server.wsUrl}other`));
  assert.equal(server.hub.connectionCount, 0);
});

Deno.test("a new connection is anonymous and receives nothing", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  assert.deepEqual(server.hub.snapshot(), { anonymous: 1, tokens: [], channels: [] });
  assert.deepEqual(await readTokenList(await server.api("/token/")), []);
  await assertNothingReceived(client);
});

Deno.test("{access_token} with a valid token authenticates the connection", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  client.send({ access_token: token });
  await server.untilAuthenticated(token, 1);
  assert.deepEqual(await readTokenList(await server.api("/token/")), [token]);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }, 1), {
    ref: 1,
    ok: true,
  });
  assert.equal(await publish(server, "news", "hello"), 1);
  assert.deepEqual(await client.next(), { message: "hello", channel: "news" });
});

Deno.test("{access_token} with an unknown token changes nothing", async (t) => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  const unknown = `${"x".repeat(128)}-1361390859`;

  await t.step("on an anonymous connection", async () => {
    await using client = await TestClient.connect(server.wsUrl);
    assertErrorReply(await client.request({ access_token: unknown }, "a"), "a");
    assertErrorReply(await client.request({ channels: { join: ["news"], leave: [] } }, 2), 2);
    assert.deepEqual(await readTokenList(await server.api("/token/")), []);
    assert.equal(await countRecipients(server, "news"), 0);
  });

  await t.step("on an authenticated connection", async () => {
    await using client = await TestClient.connect(server.wsUrl);
    await authenticateAndJoin(client, token, ["news"]);
    assertErrorReply(await client.request({ access_token: unknown }, "b"), "b");
    assert.deepEqual(await readTokenList(await server.api("/token/")), [token]);
    assert.deepEqual(await readTokenList(await server.api("/news/token/")), [token]);
    assert.equal(await publish(server, "news", 1), 1);
    assert.deepEqual(await client.next(), { message: 1, channel: "news" });
  });
});

Deno.test("{access_token} re-authenticates with another valid token and keeps the channels", async () => {
  await using server = await startTestServer();
  const first = await server.mintToken();
  const second = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, first, ["news", "sports"]);
  assert.deepEqual(await client.request({ access_token: second }, "re"), { ref: "re", ok: true });
  assert.deepEqual(await readTokenList(await server.api("/token/")), [second]);
  assert.deepEqual(await readTokenList(await server.api("/news/token/")), [second]);
  assert.deepEqual(await readTokenList(await server.api("/sports/token/")), [second]);
  assert.equal(await publish(server, "sports", "kept"), 1);
  assert.deepEqual(await client.next(), { message: "kept", channel: "sports" });
});

Deno.test("{channels} joins, then leaves", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken());
  const update = async (join: string[], leave: string[]) =>
    assert.deepEqual(await client.request({ channels: { join, leave } }, "u"), {
      ref: "u",
      ok: true,
    });
  await update(["a", "b", "c"], []);
  await update(["d"], ["b", "never-joined"]);
  // A name in both lists is joined first, then left: it ends up left.
  await update(["e", "a"], ["e", "a"]);
  for (const [channel, count] of [["a", 0], ["b", 0], ["c", 1], ["d", 1], ["e", 0]] as const) {
    assert.equal(await countRecipients(server, channel), count, channel);
  }
  assert.equal(await publish(server, "c", "on c"), 1);
  assert.deepEqual(await client.next(), { message: "on c", channel: "c" });
  await assertNothingReceived(client);
});

Deno.test("{channels} without both lists of strings is ignored", async (t) => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["kept"]);
  const invalid: Array<[what: string, channels: unknown]> = [
    ["no leave", { join: ["a"] }],
    ["no join", { leave: ["kept"] }],
    ["a string join", { join: "a", leave: [] }],
    ["a null leave", { join: ["a"], leave: null }],
    ["a number in join", { join: ["a", 1], leave: [] }],
    ["a null in leave", { join: ["a"], leave: ["kept", null] }],
    ["an object in join", { join: [{ name: "a" }], leave: [] }],
    ["a list", ["a"]],
    ["a string", "a"],
  ];
  for (const [what, channels] of invalid) {
    await t.step(what, async () => {
      assertErrorReply(await client.request({ channels }, what), what);
      client.send({ channels });
      await assertNothingReceived(client);
      // Not even the valid names of the message were applied.
      assert.equal(await countRecipients(server, "a"), 0);
      assert.equal(await countRecipients(server, "kept"), 1);
    });
  }
});

Deno.test("{channels} before authentication is ignored", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  assertErrorReply(await client.request({ channels: { join: ["news"], leave: [] } }, 1), 1);
  client.send({ channels: { join: ["sports"], leave: [] } });
  await assertNothingReceived(client);
  assert.equal(await countRecipients(server, "news"), 0);
  // Authenticating later does not apply the earlier requests.
  await authenticateAndJoin(client, token);
  assert.equal(await countRecipients(server, "news"), 0);
  assert.equal(await countRecipients(server, "sports"), 0);
  assert.deepEqual(await readTokenList(await server.api("/news/token/")), []);
});

Deno.test("a message with a string or numeric ref gets a reply echoing the ref", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  for (const ref of ["abc", "", 0, 42, -1.5]) {
    assertErrorReply(await client.request({ channels: { join: [], leave: [] } }, ref), ref);
  }
  for (const ref of ["abc", 0, 42]) {
    assert.deepEqual(await client.request({ access_token: token }, ref), { ref, ok: true });
    assert.deepEqual(await client.request({ channels: { join: ["a"], leave: [] } }, ref), {
      ref,
      ok: true,
    });
  }
  // Invalid messages with a ref are answered with an error.
  for (const message of [{ access_token: 5 }, { access_token: "" }, { other: 1 }, {}]) {
    assertErrorReply(await client.request(message, "bad"), "bad");
  }
  assertErrorReply(await client.request({ access_token: token, channels: {} }, 7), 7);
});

Deno.test("an invalid message without a ref is silently ignored", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  const invalid = [
    "not json",
    "",
    "[]",
    "null",
    '"access_token"',
    "{}",
    '{"access_token": 5}',
    '{"access_token": "unknown-1"}',
    '{"channels": {"join": ["a"], "leave": []}}',
    `{"access_token": "${token}", "channels": {"join": [], "leave": []}}`,
    '{"channels": {}}',
    `{"access_token": "${token}", "ref": {"not": "a ref"}}`,
    `{"access_token": "${token}", "ref": [1]}`,
  ];
  for (const frame of invalid) client.send(frame);
  assert.deepEqual(await client.request({ access_token: token }, "probe"), {
    ref: "probe",
    ok: true,
  });
  assert.equal(client.pending.length, 0);
  assert.equal(server.hub.connectionCount, 1);
});
