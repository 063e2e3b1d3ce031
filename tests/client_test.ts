import assert from "node:assert/strict";
import {
  BoreasApi,
  BoreasApiError,
  BoreasSubscriber,
  BoreasSubscriberError,
} from "../client/mod.ts";
import { apiOf, nextMessage, subscriberOf } from "./client_helpers.ts";
import { revokeWhileSubscribed } from "./client_scenarios.ts";
import { startTestServer, withTimeout } from "./helpers.ts";
import { TOKEN_PATTERN } from "./integration_helpers.ts";

/** Asserts `promise` rejects with a `BoreasApiError` of `status`; returns the error. */
async function apiRejection(promise: Promise<unknown>, status: number): Promise<BoreasApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BoreasApiError, `expected a BoreasApiError, got ${error}`);
    assert.equal(error.status, status, error.message);
    assert.ok(error.errors.length > 0);
    for (const message of error.errors) assert.equal(typeof message, "string");
    return error;
  }
  assert.fail(`expected a ${status} BoreasApiError, but the call succeeded`);
}

/** A fetch that answers every request with `response`, for bodies no real server sends. */
function answering(response: () => Response): typeof fetch {
  return () => Promise.resolve(response());
}

Deno.test("BoreasApi.createToken() mints a token a subscriber can authenticate with", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const token = await api.createToken();
  assert.match(token, TOKEN_PATTERN);
  assert.notEqual(await api.createToken(), token);
  await using subscriber = subscriberOf(server, token);
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  assert.equal(subscriber.state, "open");
  await server.untilAuthenticated(token, 1);
});

Deno.test("BoreasApi.listTokens() lists the tokens in use, all or on one channel", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const [a, b, unused] = [
    await api.createToken(),
    await api.createToken(),
    await api.createToken(),
  ];
  assert.deepEqual(await api.listTokens(), []);
  await using first = subscriberOf(server, a, { channels: ["café/news"] });
  await using second = subscriberOf(server, b, { channels: ["sports"] });
  await withTimeout(first.untilOpen(), "the first subscriber to open");
  await withTimeout(second.untilOpen(), "the second subscriber to open");
  assert.deepEqual((await api.listTokens()).sort(), [a, b].sort());
  assert.ok(!(await api.listTokens()).includes(unused));
  // A name with "/" and non-ASCII only round-trips when percent-encoded.
  assert.deepEqual(await api.listTokens("café/news"), [a]);
  assert.deepEqual(await api.listTokens("sports"), [b]);
  assert.deepEqual(await api.listTokens("nobody-here"), []);
});

Deno.test("BoreasApi.listTokens() refuses the channels . and .., which no path can name", async () => {
  const api = new BoreasApi({ url: "http://127.0.0.1:9", fetch: () => assert.fail("fetched") });
  await assert.rejects(api.listTokens("."), RangeError);
  await assert.rejects(api.broadcast("..", 1), RangeError);
});

Deno.test("BoreasApi.broadcast() reaches subscribers; a dry run only counts them", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  await using subscriber = subscriberOf(server, await api.createToken(), { channels: ["news"] });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  assert.equal(await api.broadcast("news", { n: 0 }, { dryRun: true }), 1);
  assert.equal(await api.broadcast("empty", { n: 0 }, { dryRun: true }), 0);
  assert.equal(await api.broadcast("news", { n: 1 }), 1);
  assert.equal(await api.broadcast("news", "two", { dryRun: false }), 1);
  // The dry run sent nothing: the first message received is the first real broadcast.
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: { n: 1 } });
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: "two" });
  assert.equal(server.metrics.messagesPublished, 2);
});

Deno.test("BoreasApi.broadcast() rejects an invalid channel or payload with a 400 BoreasApiError", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const badChannel = await apiRejection(api.broadcast("bad\u0001name", { n: 1 }), 400);
  assert.match(badChannel.errors[0]!, /channel/);
  assert.match(badChannel.message, /^POST \/broadcast\/\{channel\}\/: 400 /);
  assert.equal(badChannel.name, "BoreasApiError");
  const nullPayload = await apiRejection(api.broadcast("news", null), 400);
  assert.deepEqual(nullPayload.errors, ["payload: expected any JSON value but null"]);
});

Deno.test("BoreasApi.broadcastMany() sends one message per channel; a dry run only counts", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  await using subscriber = subscriberOf(server, await api.createToken(), {
    channels: ["news", "café/sport"],
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  assert.deepEqual(await api.broadcastMany(["news", "empty"], 0, { dryRun: true }), {
    recipients: { news: 1, empty: 0 },
  });
  assert.deepEqual(await api.broadcastMany(["café/sport", "news", "empty"], { n: 1 }), {
    recipients: { "café/sport": 1, news: 1, empty: 0 },
  });
  // The dry run sent nothing; the broadcast sent one message per channel, in their order.
  assert.deepEqual(await nextMessage(subscriber), { channel: "café/sport", message: { n: 1 } });
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: { n: 1 } });
  assert.equal(server.metrics.messagesPublished, 3);
});

Deno.test("BoreasApi.broadcastMany() answers each channel's position with history on", async () => {
  await using server = await startTestServer({ historySize: 10 });
  const api = apiOf(server);
  await api.publish("news", "first");
  const { recipients, positions } = await api.broadcastMany(["news", "sport"], "second");
  assert.deepEqual(recipients, { news: 0, sport: 0 });
  assert.equal(positions?.news?.offset, 2);
  assert.equal(positions?.sport?.offset, 1);
  assert.equal(positions?.news?.epoch, (await api.history("news")).epoch);
  assert.deepEqual(await api.broadcastMany(["news"], "dry", { dryRun: true }), {
    recipients: { news: 0 },
  });
});

Deno.test("BoreasApi.broadcastMany() rejects bad channels with a 400 BoreasApiError naming them", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const bad = await apiRejection(api.broadcastMany(["news", "bad\u0001name"], 1), 400);
  assert.deepEqual(bad.errors, ["channels[1]: expected a channel name without control characters"]);
  assert.match(bad.message, /^POST \/broadcast\/: 400 /);
  const none = await apiRejection(api.broadcastMany([], 1), 400);
  assert.deepEqual(none.errors, ["channels: expected at least one name"]);
  const many = Array.from({ length: 101 }, (_, i) => `c${i}`);
  const tooMany = await apiRejection(api.broadcastMany(many, 1), 400);
  assert.deepEqual(tooMany.errors, ["channels: expected at most 100 names, got 101"]);
  assert.equal(server.metrics.messagesPublished, 0);
});

Deno.test("BoreasApi.revokeToken() revokes; the subscriber ends with a token-revoked error", async () => {
  await using server = await startTestServer();
  const token = await revokeWhileSubscribed(server, "websocket");
  // Gone now, so a second revocation is a 404 whose message does not leak the token.
  const notFound = await apiRejection(apiOf(server).revokeToken(token), 404);
  assert.ok(!notFound.message.includes(token));
  assert.match(notFound.message, /^DELETE \/token\/\{token\}\/: 404 /);
});

Deno.test("BoreasApi.stats() reads the documented counters", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  await using subscriber = subscriberOf(server, await api.createToken(), { channels: ["news"] });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await api.broadcast("news", { n: 1 });
  await nextMessage(subscriber);
  const stats = await api.stats();
  assert.deepEqual(stats.connections, { anonymous: 0, authenticated: 1 });
  assert.equal(stats.tokens, 1);
  assert.equal(stats.channels, 1);
  assert.equal(stats.messages_published, 1);
  assert.equal(stats.frames_delivered, 1);
  assert.equal(stats.slow_consumers_dropped, 0);
  assert.equal(stats.connections_refused, 0);
  assert.equal(stats.connections_closed_for_limits, 0);
  assert.equal(typeof stats.uptime_seconds, "number");
  assert.ok(stats.memory.rss_bytes > 0);
  assert.ok(stats.memory.heap_used_bytes > 0);
});

Deno.test("BoreasApi.health() reads ok, and shutting down from a 503", async () => {
  await using server = await startTestServer();
  assert.deepEqual(await apiOf(server).health(), { status: "ok" });
  const draining = new BoreasApi({
    url: "http://boreas.test",
    fetch: answering(() => new Response('{"status": "shutting down"}', { status: 503 })),
  });
  assert.deepEqual(await draining.health(), { status: "shutting down" });
  const degraded = new BoreasApi({
    url: "http://boreas.test",
    fetch: answering(() =>
      new Response('{"status": "degraded", "errors": ["redis: connection refused"]}', {
        status: 503,
      })
    ),
  });
  assert.deepEqual(await degraded.health(), {
    status: "degraded",
    errors: ["redis: connection refused"],
  });
});

Deno.test("BoreasApi with an API key: without it 401, with it the call succeeds", async () => {
  await using server = await startTestServer({ apiKey: ["k"] });
  const refused = await apiRejection(apiOf(server).createToken(), 401);
  assert.deepEqual(refused.errors, ["authorization: expected an API key as Bearer KEY"]);
  await apiRejection(apiOf(server, "wrong").listTokens(), 401);
  const api = apiOf(server, "k");
  assert.match(await api.createToken(), TOKEN_PATTERN);
  assert.deepEqual(await api.listTokens(), []);
  assert.equal(await api.broadcast("news", 1), 0);
  assert.equal((await api.stats()).tokens, 1);
  // /health needs no key.
  assert.deepEqual(await apiOf(server).health(), { status: "ok" });
});

Deno.test("BoreasApi synthesizes one error from a body that is not {errors}", async () => {
  const api = new BoreasApi({
    url: "https://proxy.test/boreas/",
    fetch: answering(() =>
      new Response("<html>\n<b>Bad gateway</b></html>", { status: 502, statusText: "Bad Gateway" })
    ),
  });
  const error = await apiRejection(api.stats(), 502);
  assert.deepEqual(error.errors, ['HTTP 502 Bad Gateway: "<html> <b>Bad gateway</b></html>"']);
  const odd = new BoreasApi({
    url: "http://boreas.test",
    fetch: answering(() => new Response('{"tokens": "nope"}')),
  });
  const shape = await apiRejection(odd.listTokens(), 200);
  assert.match(shape.errors[0]!, /^expected a \{"tokens": \[\.\.\.\]\} object/);
});

Deno.test("BoreasApi sends the key, JSON body and path prefix it was given", async () => {
  const seen: Request[] = [];
  const api = new BoreasApi({
    url: "https://proxy.test/boreas/",
    apiKey: "secret",
    fetch: (input, init) => {
      seen.push(new Request(input, init));
      return Promise.resolve(new Response('{"recipients": 3}'));
    },
  });
  assert.equal(await api.broadcast("a b/c", { x: 1 }, { dryRun: true }), 3);
  const [request] = seen;
  assert.ok(request !== undefined);
  assert.equal(request.method, "POST");
  assert.equal(request.url, "https://proxy.test/boreas/broadcast/a%20b%2Fc/");
  assert.equal(request.headers.get("authorization"), "Bearer secret");
  assert.equal(request.headers.get("content-type"), "application/json");
  assert.deepEqual(await request.json(), { payload: { x: 1 }, dryrun: true });
});

Deno.test("BoreasApi rethrows network failures as they are", async () => {
  const server = await startTestServer();
  const api = apiOf(server);
  await server.shutdown();
  // Deno's fetch fails with a TypeError; the client passes it on unwrapped.
  await assert.rejects(api.health(), TypeError);
  const aborted = AbortSignal.abort(new Error("gave up"));
  await assert.rejects(apiOf(server).stats({ signal: aborted }), /gave up/);
});

Deno.test("BoreasSubscriber.connect() rejects an unknown token with auth-rejected", async () => {
  await using server = await startTestServer();
  const states: string[] = [];
  const connecting = BoreasSubscriber.connect({
    url: server.wsUrl,
    token: "not-a-token",
    onStateChange: (state) => states.push(state),
  });
  const error = await withTimeout(connecting.catch((error) => error), "the refusal");
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "auth-rejected");
  assert.equal(error.message, "access_token: unknown token");
  assert.deepEqual(states, ["closed"]);
  await server.untilConnections(0);
});

Deno.test("BoreasSubscriber.join() and leave() change what it receives", async (t) => {
  await using server = await startTestServer();
  const api = apiOf(server);
  await using subscriber = subscriberOf(server, await api.createToken());
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");

  await t.step("join() resolves once the server has joined", async () => {
    await withTimeout(subscriber.join("a", "b"), "join");
    assert.deepEqual(subscriber.channels, ["a", "b"]);
    assert.equal(server.hub.memberCount("a"), 1);
    assert.equal(await api.broadcast("b", "to b"), 1);
    assert.deepEqual(await nextMessage(subscriber), { channel: "b", message: "to b" });
  });

  await t.step("leave() resolves once the server has left", async () => {
    await withTimeout(subscriber.leave("a"), "leave");
    assert.deepEqual(subscriber.channels, ["b"]);
    assert.equal(await api.broadcast("a", "to a"), 0);
  });

  await t.step("a refused join rejects, and the subscription goes on", async () => {
    const error = await withTimeout(subscriber.join("ok", "bad\u0000").catch((e) => e), "join");
    assert.ok(error instanceof BoreasSubscriberError, String(error));
    assert.equal(error.kind, "rejected");
    assert.match(error.message, /^channels\.join\[1\]: /);
    assert.deepEqual(subscriber.channels, ["b"]);
    assert.equal(subscriber.state, "open");
    assert.equal(await api.broadcast("b", "still here"), 1);
    assert.deepEqual(await nextMessage(subscriber), { channel: "b", message: "still here" });
  });
});

Deno.test("BoreasSubscriber.close() ends the iteration after the queued messages", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const subscriber = subscriberOf(server, await api.createToken(), { channels: ["news"] });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await api.broadcast("news", 1);
  await api.broadcast("news", 2);
  const received: unknown[] = [];
  for await (const { message } of subscriber) {
    received.push(message);
    if (received.length === 2) await withTimeout(subscriber.close(), "close");
  }
  assert.deepEqual(received, [1, 2]);
  assert.equal(subscriber.state, "closed");
  assert.equal(subscriber.error, undefined);
  await server.untilConnections(0);
  const late = await subscriber.join("x").catch((error) => error);
  assert.ok(late instanceof BoreasSubscriberError && late.kind === "closed", String(late));
  await assert.rejects(subscriber.untilOpen(), BoreasSubscriberError);
  await subscriber.close(); // again: a no-op
});

Deno.test("BoreasSubscriber validates its options", () => {
  const token = "T";
  assert.throws(() => new BoreasSubscriber({ url: "ftp://x/", token }), TypeError);
  assert.throws(() => new BoreasSubscriber({ url: "ws://x/", token: "" }), TypeError);
  assert.throws(
    () => new BoreasSubscriber({ url: "ws://x/", token, reconnect: { factor: 0.5 } }),
    RangeError,
  );
  assert.throws(() => new BoreasApi({ url: "ws://x/" }), TypeError);
});

Deno.test("BoreasSubscriber with an aborted signal closes without connecting", async () => {
  let constructed = 0;
  const subscriber = new BoreasSubscriber({
    url: "ws://127.0.0.1:9/",
    token: "T",
    signal: AbortSignal.abort(),
    WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url);
        constructed++;
      }
    },
  });
  await withTimeout(subscriber.untilState("closed"), "closed");
  assert.equal(constructed, 0);
});
