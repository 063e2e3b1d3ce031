/**
 * Out of file descriptors: `main.ts` run under a low `ulimit -n` and flooded with connections
 * until accepting fails (`EMFILE`). Deno ends a listener's accept loop at that error; Boreas
 * binds it again, and keeps serving the subscriber it had and new ones once the flood is gone.
 */

import assert from "node:assert/strict";
import { until } from "./cluster_helpers.ts";
import { TestClient, withTimeout } from "./helpers.ts";
import { readJson } from "./integration_helpers.ts";
import { endpointsOf, serverCommand, spawnBoreas, tempDir } from "./process_helpers.ts";

/** Descriptors the server may open: Deno and Boreas take a few dozen before any client. */
const OPEN_FILES = 160;
/** Connections in the flood: more than the descriptors left. */
const FLOOD = 300;

/** Resolves once `socket` has opened, or failed to. */
function settled(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState !== WebSocket.CONNECTING) return resolve();
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("close", () => resolve(), { once: true });
  });
}

/** Closes `socket` and resolves once it is closed. */
function closed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  const done = new Promise<void>((resolve) =>
    socket.addEventListener("close", () => resolve(), { once: true })
  );
  socket.close();
  return done;
}

async function mint(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/token/`, { method: "POST" });
  return ((await readJson(response, 200)).value as { token: string }).token;
}

/** A client of `wsUrl` authenticated with `token` and in `news`; the connection is tried
 * again for up to `ms` (the listener may still be waiting to be bound again). */
async function subscribe(wsUrl: string, token: string, ms = 0): Promise<TestClient> {
  let client: TestClient | undefined;
  const connected = async () => {
    client = await TestClient.connect(wsUrl).catch(() => undefined);
    return client !== undefined;
  };
  if (!await connected()) await until(connected, `a connection to ${wsUrl}`, ms);
  assert.deepEqual(await client!.request({ access_token: token }, 1), { ref: 1, ok: true });
  await client!.request({ channels: { join: ["news"], leave: [] } }, 2);
  return client!;
}

Deno.test("a flood that exhausts file descriptors does not stop the server", async () => {
  await using dir = await tempDir();
  const server = serverCommand();
  await using boreas = await spawnBoreas(
    ["--api-port", "0", "--ws-port", "0", "--max-anonymous-connections", "100000"],
    {
      cwd: dir.path,
      command: {
        program: "bash",
        args: [
          "-c",
          `ulimit -n ${OPEN_FILES} && exec "$@"`,
          "bash",
          server.program,
          ...server.args,
        ],
      },
    },
  );
  const { apiUrl, wsUrl } = endpointsOf(await boreas.linesUntil());
  await using early = await subscribe(wsUrl, await mint(apiUrl));

  const flood = Array.from({ length: FLOOD }, () => {
    const socket = new WebSocket(wsUrl);
    socket.onerror = () => {};
    return socket;
  });
  await withTimeout(
    Promise.all(flood.map(settled)),
    "every flood connection to open or fail",
    20_000,
  );
  await boreas.stderrMatching(/listener stopped accepting; binding it again listener="ws"/);
  await withTimeout(Promise.all(flood.map(closed)), "the flood's connections to close", 20_000);

  await until(
    async () => {
      const response = await fetch(`${apiUrl}/health`).catch(() => undefined);
      await response?.body?.cancel();
      return response?.status === 200;
    },
    "GET /health to answer 200",
    10_000,
  );
  const response = await fetch(`${apiUrl}/broadcast/news/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload: "still here" }),
  });
  assert.equal(((await readJson(response, 200)).value as { recipients: number }).recipients, 1);
  assert.deepEqual(await early.next(), { channel: "news", message: "still here" });
  await using _late = await subscribe(wsUrl, await mint(apiUrl), 10_000);
  const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
  const restarts = Number(/^boreas_listener_restarts_total (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(restarts >= 1, `boreas_listener_restarts_total: ${restarts}`);
  // And it still shuts down cleanly.
  boreas.kill("SIGTERM");
  assert.equal((await boreas.exited(10_000)).code, 0);
});
