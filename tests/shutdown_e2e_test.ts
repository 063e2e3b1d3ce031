import assert from "node:assert/strict";
import { HeldRequest } from "./held_request.ts";
import { TestClient, withTimeout } from "./helpers.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";
import { closeOf, openRawClient } from "./raw_ws.ts";

const ON_PORT_0 = ["--api-port", "0", "--ws-port", "0"];

/** Waits until `boreas` serves; returns its endpoints. */
async function running(boreas: BoreasProcess) {
  return endpointsOf(await boreas.linesUntil("Running..."));
}

/** Sends SIGTERM and returns how the process exited and how long after the signal. */
async function terminate(boreas: BoreasProcess) {
  const started = performance.now();
  boreas.kill("SIGTERM");
  const exit = await boreas.exited();
  return { exit, elapsed: performance.now() - started };
}

Deno.test("main.ts on SIGTERM closes clients with 1001, answers /health 503, exits 0", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas([...ON_PORT_0, "--shutdown-timeout", "5"], {
    cwd: dir.path,
  });
  const { apiUrl, wsUrl } = await running(boreas);
  await using client = await TestClient.connect(wsUrl);
  await using raw = await openRawClient(wsUrl);
  const started = performance.now();
  boreas.kill("SIGTERM");
  assert.deepEqual(await withTimeout(client.closed, "the client's close after SIGTERM"), {
    code: 1001,
    reason: "server shutting down",
  });
  assert.deepEqual(closeOf(await raw.nextFrame("the raw client's close frame")), {
    code: 1001,
    reason: "server shutting down",
  });
  // The raw client has not answered its close: the shutdown waits, and says so.
  const health = await fetch(`${apiUrl}/health`);
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { status: "shutting down" });
  const upgrade = await fetch(wsUrl.replace("ws:", "http:"), {
    headers: { upgrade: "websocket", connection: "Upgrade" },
  });
  assert.equal(upgrade.status, 503);
  await upgrade.body?.cancel();
  await raw.sendClose(1001);
  const exit = await boreas.exited();
  const elapsed = performance.now() - started;
  assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
  assert.ok(elapsed < 5_000, `exited ${elapsed} ms after SIGTERM`);
  assert.match(exit.stderr, /^INFO shutting down signal="SIGTERM" timeoutSeconds=5$/m);
  assert.doesNotMatch(exit.stderr, /shutdown timed out|Uncaught|^\s+at /m);
});

Deno.test("main.ts exits 0 at --shutdown-timeout when a client never answers the close", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas([...ON_PORT_0, "--shutdown-timeout", "1"], {
    cwd: dir.path,
  });
  const { wsUrl } = await running(boreas);
  await using raw = await openRawClient(wsUrl);
  // From here on the client neither reads nor writes until the process is gone.
  const { exit, elapsed } = await terminate(boreas);
  assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
  assert.ok(elapsed >= 900 && elapsed < 3_000, `exited ${elapsed} ms after SIGTERM`);
  assert.doesNotMatch(exit.stderr, /Uncaught|^\s+at /m);
  // What the server had sent before it gave up is still there to read.
  assert.deepEqual(closeOf(await raw.nextFrame("the close sent before exiting")), {
    code: 1001,
    reason: "server shutting down",
  });
});

// main.ts listens for signals before it prints the banner, so a SIGTERM sent as soon as
// "Running..." shows still shuts down gracefully. Racy by nature: run enough rounds.
Deno.test({
  name: "main.ts shuts down gracefully on a SIGTERM sent right after Running...",
  fn: async () => {
    await using dir = await tempDir();
    for (let round = 0; round < 20; round++) {
      await using boreas = await spawnBoreas(ON_PORT_0, { cwd: dir.path });
      await running(boreas);
      const { exit } = await terminate(boreas);
      assert.deepEqual([exit.code, exit.signal], [0, null], `round ${round}: ${exit.stderr}`);
    }
  },
});

// The server waits for API requests in flight before stopping its listeners (Deno 2.9.6 cuts
// off their bodies otherwise, denoland/deno#36809).
Deno.test({
  name: "main.ts on SIGTERM lets an HTTP request in flight finish",
  fn: async () => {
    await using dir = await tempDir();
    await using boreas = await spawnBoreas([...ON_PORT_0, "--shutdown-timeout", "5"], {
      cwd: dir.path,
    });
    const { apiUrl, wsUrl } = await running(boreas);
    await using client = await TestClient.connect(wsUrl);
    assert.deepEqual(await client.request({ channels: { join: ["x"], leave: [] } }, 1), {
      ref: 1,
      error: "channels: authenticate first",
    });
    // `100 Continue` shows the handler is reading the body when the signal comes.
    await using held = await HeldRequest.start(
      "POST",
      `${apiUrl}/broadcast/news/`,
      JSON.stringify({ payload: { late: true } }),
    );
    boreas.kill("SIGTERM");
    await withTimeout(client.closed, "the client's close after SIGTERM");
    await boreas.stderrMatching(/^INFO shutting down/);
    const answer = await held.finish("the held request's answer after SIGTERM");
    assert.deepEqual([answer.status, answer.body], [200, '{"recipients": 0}']);
    const exit = await boreas.exited();
    assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
  },
});
