import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { HeldRequest } from "./held_request.ts";
import { startTestServer, TestClient, withTimeout } from "./helpers.ts";
import { closeOf, openRawClient } from "./raw_ws.ts";

Deno.test("RunningServer.shutdown() resolves true once every client answered the close", async () => {
  await using server = await startTestServer();
  await using first = await TestClient.connect(server.wsUrl);
  await using second = await TestClient.connect(server.wsUrl);
  await server.untilConnections(2);
  assert.equal(await withTimeout(server.shutdown(), "shutdown()"), true);
  for (const client of [first, second]) {
    assert.deepEqual(await withTimeout(client.closed, "the close"), {
      code: 1001,
      reason: "server shutting down",
    });
  }
  assert.equal(server.hub.connectionCount, 0);
  // Safe to call again: the same outcome, nothing new happens.
  assert.equal(await server.shutdown(), true);
});

Deno.test("RunningServer.shutdown() answers /health 503 and refuses upgrades meanwhile", async () => {
  await using server = await startTestServer({ shutdownTimeout: 10 });
  await using raw = await openRawClient(server.wsUrl);
  await server.untilConnections(1);
  let isDone = false;
  const stopping = server.shutdown().finally(() => isDone = true);
  // Shutdown now waits for this client, which has not answered the close yet.
  assert.deepEqual(closeOf(await raw.nextFrame("the server's close")), {
    code: 1001,
    reason: "server shutting down",
  });
  const health = await server.api("/health");
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { status: "shutting down" });
  const upgrade = await fetch(server.wsUrl.replace("ws:", "http:"), {
    headers: { upgrade: "websocket", connection: "Upgrade" },
  });
  assert.equal(upgrade.status, 503);
  assert.deepEqual(await upgrade.json(), { errors: ["server shutting down"] });
  assert.equal(isDone, false);
  await raw.sendClose(1001);
  assert.equal(await withTimeout(stopping, "shutdown() after the close was answered"), true);
});

/** Shuts `server` down while a client that never answers the close is attached; returns
 * what `shutdown()` resolved to and how long it took, in milliseconds. */
async function shutdownPastTimeout(
  server: Awaited<ReturnType<typeof startTestServer>>,
): Promise<{ isClean: boolean; elapsed: number }> {
  await using _raw = await openRawClient(server.wsUrl);
  await server.untilConnections(1);
  const started = performance.now();
  const isClean = await withTimeout(server.shutdown(), "shutdown() to give up");
  return { isClean, elapsed: performance.now() - started };
}

Deno.test("RunningServer.shutdown() gives up after --shutdown-timeout on a client that never answers", async () => {
  await using server = await startTestServer({ shutdownTimeout: 0.3 });
  const { elapsed } = await shutdownPastTimeout(server);
  // It waited for the close handshake, then stopped waiting.
  assert.ok(elapsed >= 250 && elapsed < 1_500, `took ${elapsed} ms`);
});

// A close handshake cut short at the timeout makes shutdown() resolve false and warn.
Deno.test({
  name: "RunningServer.shutdown() resolves false and warns when it was cut short",
  fn: async () => {
    const logged: string[] = [];
    const logger = createLogger({ stdout: () => {}, stderr: (line) => logged.push(line) });
    await using server = await startTestServer({ shutdownTimeout: 0.3 }, { logger });
    const { isClean } = await shutdownPastTimeout(server);
    assert.equal(isClean, false);
    assert.ok(logged.some((line) => line.startsWith("WARN shutdown timed out")), `${logged}`);
  },
});

// Deno 2.9.6's HttpServer.shutdown() makes the body of a request in flight unreadable
// (denoland/deno#36809), so the server waits for requests in flight before stopping the API.
Deno.test({
  name: "RunningServer.shutdown() lets a request in flight finish reading its body",
  fn: async () => {
    await using server = await startTestServer();
    await using held = await HeldRequest.start(
      "POST",
      `${server.apiUrl}/broadcast/news/`,
      JSON.stringify({ payload: "late" }),
    );
    const stopping = server.shutdown();
    const answer = await held.finish();
    assert.deepEqual([answer.status, answer.body], [200, '{"recipients": 0}']);
    assert.equal(await withTimeout(stopping, "shutdown()"), true);
    assert.equal(server.metrics.messagesPublished, 1);
  },
});
