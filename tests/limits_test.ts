import assert from "node:assert/strict";
import { connectOnceAccepted, startTestServer, TestClient, withTimeout } from "./helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  publish,
  readErrors,
  upgradeRequest,
} from "./integration_helpers.ts";

const UTF8 = new TextEncoder();
const MAX_FRAME_BYTES = 1_000;

/** A valid `{"channels": ...}` message with `ref` whose UTF-8 encoding is exactly `bytes`
 * long, padded with as many `filler`s as fit, then ASCII. */
function messageOfBytes(bytes: number, filler: string, ref: number): string {
  const render = (pad: string) => JSON.stringify({ channels: { join: [], leave: [] }, ref, pad });
  const room = bytes - UTF8.encode(render("")).length;
  const fillerBytes = UTF8.encode(filler).length;
  const text = render(
    filler.repeat(Math.floor(room / fillerBytes)) + "a".repeat(room % fillerBytes),
  );
  assert.equal(UTF8.encode(text).length, bytes);
  return text;
}

/** The `ref`s of the replies `client` received and has not taken yet. */
function pendingRefs(client: TestClient): unknown[] {
  return client.pending.map((reply) => (reply as { ref?: unknown }).ref);
}

Deno.test("a text frame over --max-frame-bytes in UTF-8 closes the connection with 1009", async () => {
  await using server = await startTestServer({ maxFrameBytes: MAX_FRAME_BYTES });
  await using client = await TestClient.connect(server.wsUrl);
  // Short in UTF-16 code units, long in UTF-8 bytes: the limit is on bytes.
  const text = messageOfBytes(MAX_FRAME_BYTES + 1, "€", 1);
  assert.ok(text.length < MAX_FRAME_BYTES, `UTF-16 length ${text.length}`);
  client.send(text);
  assert.deepEqual(await withTimeout(client.closed, "the close after a large frame"), {
    code: 1009,
    reason: "frame too large",
  });
  await server.untilConnections(0);
  assert.deepEqual(client.pending, []);
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
});

Deno.test("a text frame of exactly --max-frame-bytes is accepted", async () => {
  await using server = await startTestServer({ maxFrameBytes: MAX_FRAME_BYTES });
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken());
  for (const [ref, filler] of [[1, "€"], [2, "é"], [3, "a"]] as const) {
    client.send(messageOfBytes(MAX_FRAME_BYTES, filler, ref));
    assert.deepEqual(await client.next(`the reply to ref ${ref}`), { ref, ok: true });
  }
  assert.equal(client.socket.readyState, WebSocket.OPEN);
  assert.equal(server.metrics.connectionsClosedForLimits, 0);
});

Deno.test("a binary frame over --max-frame-bytes closes the connection with 1009", async () => {
  await using server = await startTestServer({ maxFrameBytes: MAX_FRAME_BYTES });
  await using client = await TestClient.connect(server.wsUrl);
  // A binary frame of exactly the limit is ignored, and the connection stays usable.
  client.socket.send(new Uint8Array(MAX_FRAME_BYTES));
  await assertNothingReceived(client);
  client.socket.send(new Uint8Array(MAX_FRAME_BYTES + 1));
  assert.deepEqual(await withTimeout(client.closed, "the close after a large binary frame"), {
    code: 1009,
    reason: "frame too large",
  });
  await server.untilConnections(0);
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
});

Deno.test("joins past --max-channels-per-connection are refused as a whole", async () => {
  await using server = await startTestServer({ maxChannelsPerConnection: 3 });
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["a", "b"]);
  const join = (join: string[], leave: string[] = []) => ({ channels: { join, leave } });
  const channels = () => server.hub.snapshot().channels.map(([name]) => name).sort();
  const refused = "channels.join: at most 3 channels per connection";

  assert.deepEqual(await client.request(join(["c", "d"]), "cd"), { ref: "cd", error: refused });
  assert.deepEqual(channels(), ["a", "b"]);
  client.send(join(["c", "d"]));
  await assertNothingReceived(client);
  assert.deepEqual(channels(), ["a", "b"]);

  assert.deepEqual(await client.request(join(["c"]), "c"), { ref: "c", ok: true });
  assert.deepEqual(await client.request(join(["d"]), "d"), { ref: "d", error: refused });
  assert.equal(server.hub.memberCount("d"), 0);
  // Channels already joined do not count twice.
  assert.deepEqual(await client.request(join(["a", "b"]), "ab"), { ref: "ab", ok: true });
  // Leaving in the same message makes room.
  assert.deepEqual(await client.request(join(["d"], ["a"]), "d-a"), { ref: "d-a", ok: true });
  assert.deepEqual(channels(), ["b", "c", "d"]);
  assert.equal(server.hub.memberCount("a"), 0);
  assert.equal(server.hub.memberCount("d"), 1);
});

Deno.test("an upgrade past --max-connections is answered 503 until one closes", async () => {
  await using server = await startTestServer({ maxConnections: 2 });
  await using first = await TestClient.connect(server.wsUrl);
  await using _second = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);

  const response = await upgradeRequest(server);
  assert.deepEqual(await readErrors(response, 503), ["too many connections (at most 2)"]);
  await assert.rejects(TestClient.connect(server.wsUrl), /cannot connect/);
  assert.equal(server.metrics.connectionsRefused, 2);
  assert.equal(server.hub.connectionCount, 2);

  await first[Symbol.asyncDispose]();
  await server.untilConnections(1);
  await using _third = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);
  assert.equal(server.metrics.connectionsRefused, 2);
});

Deno.test("a connection still anonymous after --auth-timeout is closed with 4003", async () => {
  await using server = await startTestServer({ authTimeout: 0.2 });
  await using client = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  assert.deepEqual(await withTimeout(client.closed, "the auth-timeout close"), {
    code: 4003,
    reason: "authentication timeout",
  });
  await server.untilConnections(0);
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
});

Deno.test("a connection that authenticates within --auth-timeout stays open", async () => {
  await using server = await startTestServer({ authTimeout: 0.2 });
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  // A later anonymous connection is the clock: once it is closed, the first one's timeout
  // has passed too.
  await using victim = await TestClient.connect(server.wsUrl);
  assert.equal((await withTimeout(victim.closed, "the victim's auth-timeout close")).code, 4003);
  await server.untilConnections(1);
  assert.equal(await publish(server, "news", "still here"), 1);
  assert.deepEqual(await client.next(), { message: "still here", channel: "news" });
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
});

// Deno cannot tear down a server WebSocket whose peer never answers the close, so such a socket
// keeps its --max-connections slot (and its file descriptor) until the peer goes away.
Deno.test("a silent peer closed for --auth-timeout holds its slot until its TCP connection ends", async () => {
  await using server = await startTestServer({ maxConnections: 1, authTimeout: 0.2 });
  const silent = await RawWebSocket.connect(server.wsUrl);
  try {
    await server.untilConnections(1);
    await server.untilConnections(0);
    assert.equal(server.metrics.connectionsClosedForLimits, 1);
    await assert.rejects(TestClient.connect(server.wsUrl), /cannot connect/);
  } finally {
    await silent[Symbol.asyncDispose]();
  }
  await using _next = await connectOnceAccepted(server.wsUrl);
  await server.untilConnections(1);
});

Deno.test("with --require-auth false no --auth-timeout applies", async () => {
  await using server = await startTestServer({ requireAuth: false, authTimeout: 0.2 });
  await using clock = await startTestServer({ authTimeout: 0.2 });
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  // An anonymous connection to another server with the same timeout, opened later.
  await using victim = await TestClient.connect(clock.wsUrl);
  assert.equal((await withTimeout(victim.closed, "the victim's auth-timeout close")).code, 4003);
  assert.equal(await publish(server, "news", "still here"), 1);
  assert.deepEqual(await client.next(), { message: "still here", channel: "news" });
  assert.equal(server.metrics.connectionsClosedForLimits, 0);
});

Deno.test("more than --max-client-messages-per-second in a burst closes with 1008", async () => {
  await using server = await startTestServer({ maxClientMessagesPerSecond: 2 });
  await using client = await TestClient.connect(server.wsUrl);
  // One more frame than the bucket holds; a refill would need the frames spread over 500 ms.
  for (const ref of [1, 2, 3]) client.send({ channels: { join: [], leave: [] }, ref });
  assert.deepEqual(await withTimeout(client.closed, "the message-rate close"), {
    code: 1008,
    reason: "too many messages",
  });
  // Frames are answered in order, so the two within the limit were answered first.
  assert.deepEqual(pendingRefs(client), [1, 2]);
  await server.untilConnections(0);
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
});

Deno.test("a burst of exactly --max-client-messages-per-second is answered", async () => {
  await using server = await startTestServer({ maxClientMessagesPerSecond: 5 });
  await using client = await TestClient.connect(server.wsUrl);
  client.send({ access_token: await server.mintToken(), ref: 1 });
  client.send({ channels: { join: ["news"], leave: [] }, ref: 2 });
  for (const ref of [3, 4, 5]) client.send({ channels: { join: [], leave: [] }, ref });
  for (const ref of [1, 2, 3, 4, 5]) {
    assert.deepEqual(await client.next(`the reply to ref ${ref}`), { ref, ok: true });
  }
  assert.equal(await publish(server, "news", "still here"), 1);
  assert.deepEqual(await client.next(), { message: "still here", channel: "news" });
  assert.equal(client.socket.readyState, WebSocket.OPEN);
  assert.equal(server.metrics.connectionsClosedForLimits, 0);
});
