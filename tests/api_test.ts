import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  broadcast,
  closeClient,
  closeOf,
  countRecipients,
  EMPTY_RECIPIENT_DUMP,
  mediaType,
  nextRawFrame,
  publish,
  readErrors,
  readJson,
  readTokenList,
  TOKEN_PATTERN,
} from "./integration_helpers.ts";

Deno.test("POST /token/ mints a new valid token in the original's spelling", async () => {
  await using server = await startTestServer();
  const mint = async () => {
    const { text, value } = await readJson(await server.api("/token/", { method: "POST" }), 200);
    const { token } = value as { token: string };
    assert.match(token, TOKEN_PATTERN);
    assert.equal(text, `{"token": "${token}"}`);
    return token;
  };
  const first = await mint();
  const second = await mint();
  assert.notEqual(first, second);
  // The minted token authenticates: authenticateAndJoin asserts the `ok` reply.
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, second, ["news"]);
  assert.equal(await countRecipients(server, "news"), 1);
});

Deno.test("GET /token/ lists the tokens with an authenticated connection now", async () => {
  await using server = await startTestServer();
  assert.deepEqual(await readTokenList(await server.api("/token/")), []);
  const a = await server.mintToken();
  const b = await server.mintToken();
  const unused = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await using anonymous = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, a);
  await authenticateAndJoin(second, b);
  await server.untilConnections(3);
  const listed = await readTokenList(await server.api("/token/"));
  assert.deepEqual(listed, [a, b].sort());
  assert.ok(!listed.includes(unused));

  await closeClient(second);
  await server.untilAuthenticated(b, 0);
  assert.deepEqual(await readTokenList(await server.api("/token/")), [a]);
  await assertNothingReceived(anonymous);
});

Deno.test("DELETE /token/:token/ revokes the token and closes its connections with 4001", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  const other = await server.mintToken();
  await using revoked = await TestClient.connect(server.wsUrl);
  await using bystander = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(revoked, token, ["news"]);
  await authenticateAndJoin(bystander, other, ["news"]);

  const response = await server.api(`/token/${token}/`, { method: "DELETE" });
  assert.equal(response.status, 204);
  assert.equal(await response.text(), "");
  assert.deepEqual(await closeOf(revoked), { code: 4001, reason: "token revoked" });
  await server.untilMembers("news", 1);
  assert.deepEqual(await readTokenList(await server.api("/token/")), [other]);
  assert.deepEqual(await readTokenList(await server.api("/news/token/")), [other]);

  // The token can no longer authenticate.
  await using late = await TestClient.connect(server.wsUrl);
  const reply = await late.request({ access_token: token }, "again") as Record<string, unknown>;
  assert.equal(reply.ref, "again");
  assert.equal(typeof reply.error, "string");
  assert.deepEqual(await readTokenList(await server.api("/token/")), [other]);
  assert.equal(await publish(server, "news", "still here"), 1);
  assert.deepEqual(await bystander.next(), { message: "still here", channel: "news" });

  // Revoked is gone: a second DELETE is an unknown token.
  await readErrors(await server.api(`/token/${token}/`, { method: "DELETE" }), 404);
});

Deno.test("DELETE /token/:token/ revokes a token that has no connection", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  const response = await server.api(`/token/${token}/`, { method: "DELETE" });
  assert.equal(response.status, 204);
  await response.body?.cancel();
  await using client = await TestClient.connect(server.wsUrl);
  const reply = await client.request({ access_token: token }) as Record<string, unknown>;
  assert.equal(typeof reply.error, "string");
  const dump = await server.api("/debug/token-dump");
  assert.equal(await dump.text(), "");
});

Deno.test("DELETE /token/:token/ answers 404 for an unknown token", async () => {
  await using server = await startTestServer();
  const known = await server.mintToken();
  await readErrors(await server.api("/token/nosuchtoken-1/", { method: "DELETE" }), 404);
  const dump = await server.api("/debug/token-dump");
  assert.equal(await dump.text(), `${known}\n`);
});

Deno.test("GET /:channel/token/ lists the distinct tokens subscribed to that channel", async () => {
  await using server = await startTestServer();
  const a = await server.mintToken();
  const b = await server.mintToken();
  const c = await server.mintToken();
  await using a1 = await TestClient.connect(server.wsUrl);
  await using a2 = await TestClient.connect(server.wsUrl);
  await using b1 = await TestClient.connect(server.wsUrl);
  await using c1 = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(a1, a, ["news"]);
  await authenticateAndJoin(a2, a, ["news", "sports"]);
  await authenticateAndJoin(b1, b, ["news"]);
  await authenticateAndJoin(c1, c, ["sports"]);

  assert.deepEqual(await readTokenList(await server.api("/news/token/")), [a, b].sort());
  assert.deepEqual(await readTokenList(await server.api("/sports/token/")), [a, c].sort());
  assert.deepEqual(await readTokenList(await server.api("/weather/token/")), []);
});

Deno.test("POST /broadcast/:channel/ sends each subscriber one exact frame", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await using outsider = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, token, ["news"]);
  await authenticateAndJoin(second, token, ["news"]);
  await authenticateAndJoin(outsider, token, ["sports"]);

  const raw = nextRawFrame(first);
  const response = await broadcast(server, "news", { dryrun: false, payload: { n: 1 } });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 2}');
  assert.equal(await raw, '{"message": {"n":1}, "channel": "news"}');
  assert.deepEqual(await first.next(), { message: { n: 1 }, channel: "news" });
  assert.deepEqual(await second.next(), { message: { n: 1 }, channel: "news" });
  // One frame each, none to the subscriber of another channel.
  await assertNothingReceived(first);
  await assertNothingReceived(second);
  await assertNothingReceived(outsider);
});

Deno.test("POST /broadcast/:channel/ delivers any JSON payload but null", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  // Falsy payloads are payloads too; dryrun is left out and defaults to false.
  const payloads = [0, false, "", [], {}, "text", -1.5, [1, "two", null], { a: { b: [true] } }];
  for (const payload of payloads) {
    const response = await broadcast(server, "news", { payload });
    assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
    assert.deepEqual(await client.next(`payload ${JSON.stringify(payload)}`), {
      message: payload,
      channel: "news",
    });
  }
});

Deno.test("POST /broadcast/:channel/ with dryrun counts the recipients and sends nothing", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, token, ["news"]);
  await authenticateAndJoin(second, token, ["news"]);

  const response = await broadcast(server, "news", { dryrun: true, payload: "x" });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 2}');
  await assertNothingReceived(first);
  await assertNothingReceived(second);
  assert.equal(await publish(server, "empty", "x", true), 0);
});

Deno.test("POST /broadcast/:channel/ percent-decodes the channel name", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using slash = await TestClient.connect(server.wsUrl);
  await using accent = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(slash, token, ["a/b"]);
  await authenticateAndJoin(accent, token, ["hé", "a b"]);

  let response = await broadcast(server, "a%2Fb", { payload: 1 });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await slash.next(), { message: 1, channel: "a/b" });
  response = await broadcast(server, "h%C3%A9", { payload: 2 });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await accent.next(), { message: 2, channel: "hé" });
  response = await broadcast(server, "a%20b", { payload: 3 });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await accent.next(), { message: 3, channel: "a b" });
  // GET /:channel/token/ decodes the same way.
  assert.deepEqual(await readTokenList(await server.api("/a%2Fb/token/")), [token]);
  assert.deepEqual(await readTokenList(await server.api("/h%C3%A9/token/")), [token]);
});

Deno.test("every route answers with and without a trailing slash", async (t) => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  const token = await server.mintToken();
  await authenticateAndJoin(client, token, ["news"]);
  for (const slash of ["", "/"]) {
    await t.step(slash === "" ? "without" : "with", async () => {
      const minted = await readJson(await server.api(`/token${slash}`, { method: "POST" }), 200);
      assert.match((minted.value as { token: string }).token, TOKEN_PATTERN);
      assert.deepEqual(await readTokenList(await server.api(`/token${slash}`)), [token]);
      assert.deepEqual(await readTokenList(await server.api(`/news/token${slash}`)), [token]);
      const sent = await server.api(`/broadcast/news${slash}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ payload: slash }),
      });
      assert.equal((await readJson(sent, 200)).text, '{"recipients": 1}');
      assert.deepEqual(await client.next(), { message: slash, channel: "news" });
      for (const path of ["/debug/token-dump", "/debug/recipient-dump"]) {
        const response = await server.api(`${path}${slash}`);
        await response.body?.cancel();
        assert.equal(response.status, 200, `${path}${slash}`);
      }
      const revoked = (minted.value as { token: string }).token;
      const deleted = await server.api(`/token/${revoked}${slash}`, { method: "DELETE" });
      await deleted.body?.cancel();
      assert.equal(deleted.status, 204);
    });
  }
});

Deno.test("GET /debug/token-dump lists every valid token, one a line", async () => {
  await using server = await startTestServer({}, { tokens: ["preloaded-1"] });
  const minted = await server.mintToken();
  const response = await server.api("/debug/token-dump");
  assert.equal(response.status, 200);
  assert.equal(mediaType(response), "text/plain");
  assert.equal(await response.text(), `preloaded-1\n${minted}\n`);
});

Deno.test("GET /debug/recipient-dump reports connections, tokens and channels", async () => {
  await using server = await startTestServer();
  const dump = async () => {
    const response = await server.api("/debug/recipient-dump");
    assert.equal(response.status, 200);
    assert.equal(mediaType(response), "text/plain");
    return await response.text();
  };
  assert.equal(await dump(), EMPTY_RECIPIENT_DUMP);
  const token = await server.mintToken();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await using anonymous = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(first, token, ["ch1"]);
  await authenticateAndJoin(second, token, ["ch1", "ch2"]);
  await server.untilConnections(3);
  assert.equal(
    await dump(),
    "RECEIVER POOL REPORT\nanonymous: 1\nauthenticated:\n" +
      `\t - ${token}: 2\n` +
      "channels:\n\t - ch1: 2\n\t - ch2: 1\n",
  );
  await assertNothingReceived(anonymous);
});

Deno.test("the debug routes answer 404 when debug mode is off", async () => {
  await using server = await startTestServer({ debug: false });
  for (const path of ["/debug/token-dump", "/debug/recipient-dump", "/debug/token-dump/"]) {
    await readErrors(await server.api(path), 404);
  }
});

Deno.test("an unknown path answers 404", async () => {
  await using server = await startTestServer();
  for (const path of ["/", "/nope/", "/broadcast//", "/token/a/b/", "/debug/", "/news/token/x/"]) {
    await readErrors(await server.api(path), 404);
  }
  await readErrors(await server.api("/nope/", { method: "POST" }), 404);
});

Deno.test("a known path with another method answers 405 with Allow", async () => {
  await using server = await startTestServer();
  const cases: Array<[method: string, path: string, allowed: string[]]> = [
    ["PUT", "/token/", ["GET", "POST"]],
    ["DELETE", "/token/", ["GET", "POST"]],
    ["GET", "/broadcast/news/", ["POST"]],
    ["GET", "/broadcast/", ["POST"]],
    ["DELETE", "/broadcast/news", ["POST"]],
    ["POST", "/news/token/", ["GET"]],
    ["POST", "/debug/token-dump", ["GET"]],
    ["POST", "/token/sometoken/", ["DELETE", "GET"]],
  ];
  for (const [method, path, allowed] of cases) {
    const response = await server.api(path, { method });
    const allow = (response.headers.get("allow") ?? "").split(",").map((m) => m.trim());
    await readErrors(response, 405);
    for (const m of allowed) assert.ok(allow.includes(m), `${method} ${path}: Allow ${allow}`);
    assert.ok(!allow.includes(method), `${method} ${path}: Allow ${allow}`);
  }
});
