/**
 * Upgrade requests whose client resets the connection before the `101` reaches it. Deno then
 * fires no event at all on the server's socket (it stays `CONNECTING`), so without the open
 * deadline each one held its place in `--max-connections`, `--max-anonymous-connections` and
 * its Pusher app's quota for ever: a few bare requests locked every new client out until a
 * restart.
 */

import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { startTestServer, TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { readErrors, upgradeRequest } from "./integration_helpers.ts";
import { APP, appUrl, RawPusher } from "./pusher_helpers.ts";

const UTF8 = new TextEncoder();
const UPGRADE_HEADERS = "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n`;

/** Sends an upgrade request for `path` and resets the connection before its answer can be
 * written: closing with unread bytes (the rest of a first answer) makes the kernel send RST. */
async function resetUpgrade(server: TestServer, path: string): Promise<void> {
  const { hostname, port } = server.wsAddr;
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(UTF8.encode("GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    // One byte of the 404 read: its rest stays unread.
    assert.notEqual(await conn.read(new Uint8Array(1)), null);
    await conn.write(
      UTF8.encode(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n${UPGRADE_HEADERS}\r\n`),
    );
  } finally {
    conn.close();
  }
}

/** A logger that resolves `forgotten` once `count` sockets have been forgotten as never
 * opened. */
function forgettingLogger(count: number) {
  let seen = 0;
  let done = () => {};
  const forgotten = new Promise<void>((resolve) => done = resolve);
  const logger = createLogger({
    stdout: () => {},
    stderr: (line) => {
      if (line.includes("that never opened") && ++seen === count) done();
    },
  });
  return { logger, forgotten };
}

Deno.test({
  name: "upgrades reset before their answer give back their places at the open deadline",
  // Deno's own upgrade ops of these sockets never complete, and its listener never finishes
  // shutting down (the shutdown gives up after --shutdown-timeout): nothing Boreas holds.
  sanitizeOps: false,
  fn: resetUpgrades,
});

async function resetUpgrades(): Promise<void> {
  const app = { ...APP, maxConnections: 2 };
  const { logger, forgotten } = forgettingLogger(4);
  await using server = await startTestServer(
    { pusherApps: [app], maxAnonymousConnections: 2, shutdownTimeout: 0.5 },
    { logger, openTimeoutMs: 200 },
  );
  for (let i = 0; i < 2; i++) await resetUpgrade(server, "/");
  for (let i = 0; i < 2; i++) await resetUpgrade(server, `/app/${app.key}?protocol=7`);
  // Until the deadline they cannot be told from sockets about to open.
  assert.deepEqual(await readErrors(await upgradeRequest(server), 503), [
    "too many anonymous connections (at most 2)",
  ]);
  assert.equal(server.metrics.pusherConnections.get(app.id), 2);
  await withTimeout(forgotten, "4 sockets forgotten as never opened");
  assert.equal(server.metrics.pusherConnections.get(app.id), 0);
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: await server.mintToken() }, 1), {
    ref: 1,
    ok: true,
  });
  const { client: pusher } = await RawPusher.established(appUrl(server, app.key));
  await using _pusher = pusher;
}
