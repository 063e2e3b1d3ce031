/**
 * An SSE client that stops reading: dropped as a slow consumer, its stream still counts
 * against `--max-connections` until its response is over, as a WebSocket being closed does.
 * Otherwise a client that opens streams and never reads them leaves, for each, up to
 * `--max-buffered-bytes` queued on the server and no connection counted.
 */

import assert from "node:assert/strict";
import { startTestServer, type TestServer, WAIT_MS } from "./helpers.ts";
import { readErrors, readJson } from "./integration_helpers.ts";

const KIB = 1024;

/** Opens `GET /events` on a bare connection that is never read. */
async function silentStream(server: TestServer, query: string): Promise<Deno.TcpConn> {
  const { hostname, port } = server.wsAddr;
  const conn = await Deno.connect({ hostname, port });
  const head = `GET /events?${query} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  return conn;
}

function openStream(server: TestServer, query: string): Promise<Response> {
  return fetch(`${server.wsUrl.replace(/^ws/, "http")}events?${query}`);
}

/** Publishes 256 KiB payloads to `channel` until a slow consumer has been dropped: the
 * socket buffers of the connection fill up first, then the stream's queue. */
async function fillUntilDropped(server: TestServer, channel: string): Promise<void> {
  const body = JSON.stringify({ payload: "x".repeat(256 * KIB) });
  for (let sent = 0; server.metrics.slowConsumersDropped === 0; sent++) {
    // Far more than loopback socket buffers hold.
    if (sent === 400) throw new Error("no slow consumer dropped after 100 MiB");
    const response = await server.api(`/broadcast/${channel}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    await readJson(response, 200);
  }
}

/** Resolves once `GET /events?query` is answered 200 (then cancels it); rejects after the
 * wait. */
async function untilAccepted(server: TestServer, query: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const response = await openStream(server, query);
    await response.body?.cancel();
    if (response.status === 200) return;
    if (Date.now() > deadline) throw new Error(`GET /events not accepted within ${WAIT_MS} ms`);
  }
}

Deno.test("an SSE stream dropped as a slow consumer counts as a connection until it is over", async () => {
  await using server = await startTestServer({ maxConnections: 1, maxBufferedBytes: 64 * KIB });
  const token = await server.mintToken();
  const query = `channel=flood&access_token=${token}`;
  const conn = await silentStream(server, query);
  try {
    await server.untilMembers("flood", 1);
    await fillUntilDropped(server, "flood");
    await server.untilConnections(0);
    // Its queue is still held for it: it is still a connection.
    const refused = await openStream(server, query);
    if (refused.status === 200) await refused.body?.cancel();
    assert.equal(refused.status, 503, "a second stream was accepted");
    assert.deepEqual(await readErrors(refused, 503), ["too many connections (at most 1)"]);
  } finally {
    conn.close();
  }
  await untilAccepted(server, query);
});
