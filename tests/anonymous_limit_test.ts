/** `--max-anonymous-connections`: what clients that have not authenticated can make the server
 * hold. Deno reassembles a whole message before the server sees it, so the number of such
 * connections is what can be bounded. */

import assert from "node:assert/strict";
import { connectOnceAccepted, startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readErrors, upgradeRequest } from "./integration_helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";

/** Asserts the next upgrade is refused for the anonymous limit `max`. */
async function assertRefused(server: TestServer, max: number): Promise<void> {
  assert.deepEqual(await readErrors(await upgradeRequest(server), 503), [
    `too many anonymous connections (at most ${max})`,
  ]);
}

/** The refused connections as `/stats` and `/metrics` count them. */
async function refusedCounts(server: TestServer): Promise<[unknown, string | undefined]> {
  const stats = await (await server.api("/stats")).json() as Record<string, unknown>;
  const metrics = await (await server.api("/metrics")).text();
  const line = metrics.split("\n").find((l) => l.startsWith("boreas_connections_refused_total "));
  return [stats.connections_refused, line?.split(" ")[1]];
}

Deno.test("an upgrade past --max-anonymous-connections is answered 503, and counted as refused", async () => {
  await using server = await startTestServer({ maxAnonymousConnections: 2 });
  await using _first = await TestClient.connect(server.wsUrl);
  await using _second = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);
  await assertRefused(server, 2);
  await assert.rejects(TestClient.connect(server.wsUrl), /cannot connect/);
  assert.equal(server.hub.connectionCount, 2);
  assert.deepEqual(await refusedCounts(server), [2, "2"]);
});

Deno.test("authenticating an anonymous connection frees its place; a refused token does not", async () => {
  await using server = await startTestServer({ maxAnonymousConnections: 2 });
  await using first = await TestClient.connect(server.wsUrl);
  await using _second = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);
  await assertRefused(server, 2);

  const refused = await first.request({ access_token: "no-such-token" }, "bad");
  assert.equal((refused as { error?: unknown }).error !== undefined, true, JSON.stringify(refused));
  await assertRefused(server, 2);

  assert.deepEqual(await first.request({ access_token: await server.mintToken() }), {
    ref: 1,
    ok: true,
  });
  await using _third = await TestClient.connect(server.wsUrl);
  await server.untilConnections(3);
  await assertRefused(server, 2);
  assert.equal(server.metrics.connectionsRefused, 3);
});

Deno.test("closing an anonymous connection frees its place", async () => {
  await using server = await startTestServer({ maxAnonymousConnections: 1 });
  const first = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  await assertRefused(server, 1);
  await first[Symbol.asyncDispose]();
  await server.untilConnections(0);
  await using _next = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
});

// Deno cannot tear down a server WebSocket whose peer never answers the close, and it keeps
// reassembling what such a peer sends: its place is only freed when the TCP connection ends.
Deno.test("a silent peer closed for --auth-timeout keeps its anonymous place until it disconnects", async () => {
  await using server = await startTestServer({ maxAnonymousConnections: 1, authTimeout: 0.2 });
  const silent = await RawWebSocket.connect(server.wsUrl);
  try {
    await server.untilConnections(1);
    await server.untilConnections(0);
    assert.equal(server.metrics.connectionsClosedForLimits, 1);
    await assertRefused(server, 1);
  } finally {
    await silent[Symbol.asyncDispose]();
  }
  await using _next = await connectOnceAccepted(server.wsUrl);
  await server.untilConnections(1);
});

Deno.test("with --no-require-auth no connection counts as anonymous", async () => {
  await using server = await startTestServer({ requireAuth: false, maxAnonymousConnections: 1 });
  await using _first = await TestClient.connect(server.wsUrl);
  await using _second = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);
  assert.equal(server.metrics.connectionsRefused, 0);
});
