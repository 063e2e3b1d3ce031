/**
 * The server's own limits apply to Pusher connections as to native ones: a subscriber that
 * stops reading is dropped past --max-buffered-bytes, and --allowed-origins refuses an upgrade
 * to /app/{key} from another Origin with 403. With no app declared, the Pusher routes are 404.
 */

import assert from "node:assert/strict";
import { renderPusherEvent } from "../src/protocol/pusher.ts";
import { pusherHubChannel } from "../src/session/pusher_apps.ts";
import { curl } from "./curl.ts";
import { startTestServer } from "./helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";
import { APP, appUrl, RawPusher, startPusherServer } from "./pusher_helpers.ts";

const MAX_BUFFERED_BYTES = 256 * 1024;
const BROADCASTS = 2_000;
const PAD = "x".repeat(16 * 1024);
const UPGRADE = [
  "Upgrade: websocket",
  "Connection: Upgrade",
  `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}`,
  "Sec-WebSocket-Version: 13",
].flatMap((header) => ["-H", header]);

Deno.test("a Pusher subscriber that stops reading is dropped past --max-buffered-bytes", async () => {
  await using server = await startPusherServer([APP], { maxBufferedBytes: MAX_BUFFERED_BYTES });
  const hubChannel = pusherHubChannel(APP, "feed");
  const { client: reader } = await RawPusher.established(appUrl(server, APP.key));
  await using _reader = reader;
  await reader.subscribe("feed");
  // Subscribes, then never reads a byte again.
  await using stalled = await RawWebSocket.connect(appUrl(server, APP.key));
  await stalled.send(JSON.stringify({ event: "pusher:subscribe", data: { channel: "feed" } }));
  await server.untilMembers(hubChannel, 2);
  let recipients = 2;
  for (let seq = 0; seq < BROADCASTS && recipients === 2; seq++) {
    const frame = renderPusherEvent("tick", "feed", JSON.stringify(`${seq}${PAD}`));
    recipients = (await server.cluster.broker.publish(hubChannel, frame)).recipients;
    assert.equal((await reader.next(`tick ${seq}`, "tick")).data, `${seq}${PAD}`);
  }
  assert.equal(recipients, 1, "the stalled subscriber was never dropped");
  assert.equal(server.metrics.slowConsumersDropped, 1);
  await server.untilMembers(hubChannel, 1);
});

Deno.test("--allowed-origins refuses a Pusher upgrade from another Origin with 403", async () => {
  await using server = await startPusherServer([APP], {
    allowedOrigins: ["https://app.example"],
  });
  const url = appUrl(server, APP.key).replace(/^ws:/, "http:");
  const evil = await curl("-H", "Origin: https://evil.example", ...UPGRADE, url);
  assert.equal(evil.status, 403, evil.body);
  assert.match(evil.body, /see --allowed-origins/);
  // A connection with no Origin (no browser) is still established.
  const { client } = await RawPusher.established(appUrl(server, APP.key));
  await client[Symbol.asyncDispose]();
});

Deno.test("with no Pusher app declared, /app/{key} and /apps/{id}/events answer 404", async () => {
  await using server = await startTestServer();
  const ws = `http://127.0.0.1:${server.wsAddr.port}`;
  const upgrade = await curl(...UPGRADE, `${ws}/app/k?protocol=7`);
  assert.equal(upgrade.status, 404, upgrade.body);
  for (const base of [server.apiUrl, ws]) {
    const events = await fetch(`${base}/apps/1/events`, { method: "POST", body: "{}" });
    assert.equal(events.status, 404, base);
    await events.body?.cancel();
  }
});
