import assert from "node:assert/strict";
import type { Hub } from "../src/hub.ts";
import { createLogger } from "../src/log.ts";
import { renderBroadcastFrame } from "../src/protocol.ts";
import {
  connectOnceAccepted,
  startTestServer,
  TestClient,
  type TestServer,
  withTimeout,
} from "./helpers.ts";
import { authenticateAndJoin, publish } from "./integration_helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";

/** Like `untilHub`, with a wait of `ms`: for limits that take seconds to apply. */
function untilHubWithin(
  hub: Hub,
  predicate: () => boolean,
  what: string,
  ms: number,
): Promise<void> {
  if (predicate()) return Promise.resolve();
  let stop = () => {};
  const reached = new Promise<void>((resolve) => {
    stop = hub.onChange(() => {
      if (predicate()) resolve();
    });
  });
  return withTimeout(reached, what, ms).finally(stop);
}

/** `values` as runs of equal neighbours: `[2, 2, 1]` is `[[2, 2], [1, 1]]`. */
function runs(values: readonly number[]): Array<[value: number, count: number]> {
  const result: Array<[number, number]> = [];
  for (const value of values) {
    const last = result.at(-1);
    if (last?.[0] === value) last[1]++;
    else result.push([value, 1]);
  }
  return result;
}

/** A raw peer authenticated with `token` and subscribed to `channel`, that never reads. */
async function connectStalled(
  server: TestServer,
  token: string,
  channel: string,
): Promise<RawWebSocket> {
  const members = server.hub.memberCount(channel);
  const stalled = await RawWebSocket.connect(server.wsUrl);
  try {
    await stalled.send(JSON.stringify({ access_token: token }));
    await stalled.send(JSON.stringify({ channels: { join: [channel], leave: [] } }));
    await server.untilMembers(channel, members + 1);
    return stalled;
  } catch (error) {
    stalled.close();
    throw error;
  }
}

Deno.test("--ping-interval drops a peer that answers no ping and keeps one that does", async () => {
  await using server = await startTestServer({ pingInterval: 1 });
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  // Two silent peers in a row, each opened after the client: it outlives two rounds of pings.
  for (const round of [1, 2]) {
    await using _silent = await RawWebSocket.connect(server.wsUrl);
    await server.untilConnections(2);
    await untilHubWithin(
      server.hub,
      () => server.hub.connectionCount === 1,
      `silent peer ${round} to be dropped for answering no ping`,
      5_000,
    );
  }
  assert.equal(client.socket.readyState, WebSocket.OPEN);
  assert.equal(await publish(server, "news", "still here"), 1);
  assert.deepEqual(await client.next(), { message: "still here", channel: "news" });
});

const MAX_BUFFERED_BYTES = 256 * 1024;
const BROADCASTS = 2_000;
const PAD = "x".repeat(16 * 1024);

Deno.test("a subscriber that stops reading is dropped past --max-buffered-bytes", async () => {
  const logLines: string[] = [];
  const logger = createLogger({ format: "json", stderr: (line) => logLines.push(line) });
  await using server = await startTestServer({ maxBufferedBytes: MAX_BUFFERED_BYTES }, {
    logger,
  });
  const token = await server.mintToken();
  await using reader = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(reader, token, ["feed"]);
  await using _stalled = await connectStalled(server, token, "feed");

  const recipients: number[] = [];
  const publishAll = async () => {
    for (let seq = 0; seq < BROADCASTS; seq++) {
      recipients.push(await publish(server, "feed", { seq, pad: PAD }));
    }
  };
  const receiveAll = async () => {
    for (let seq = 0; seq < BROADCASTS; seq++) {
      const { message, channel } = await reader.next(`broadcast ${seq}`) as {
        message: { seq: number; pad: string };
        channel: string;
      };
      assert.ok(
        message.seq === seq && message.pad === PAD && channel === "feed",
        `expected broadcast ${seq} on feed, got ${message.seq} on ${channel}`,
      );
    }
  };
  await withTimeout(
    Promise.all([publishAll(), receiveAll()]),
    `${BROADCASTS} broadcasts to be published and received`,
    30_000,
  );

  // Each broadcast reached both until the stalled one was dropped, then only the reader.
  const reachedBoth = recipients.indexOf(1);
  assert.deepEqual(runs(recipients), [[2, reachedBoth], [1, BROADCASTS - reachedBoth]]);
  // What the kernel's socket buffers hold comes on top of --max-buffered-bytes, yet it was
  // dropped well before the end.
  assert.ok(reachedBoth < BROADCASTS / 2, `dropped after ${reachedBoth} broadcasts`);
  assert.equal(server.metrics.slowConsumersDropped, 1);
  assert.equal(server.hub.memberCount("feed"), 1);
  assert.equal(server.hub.connectionCount, 1);
  // It was dropped before more than the limit and one frame was queued for it.
  const drops = logLines.map((line) => JSON.parse(line)).filter((entry) =>
    entry.message === "dropping slow consumer"
  );
  assert.equal(drops.length, 1, logLines.join("\n"));
  const frameBytes = renderBroadcastFrame("feed", { seq: BROADCASTS, pad: PAD }).length;
  const { bufferedBytes } = drops[0];
  assert.ok(
    bufferedBytes > MAX_BUFFERED_BYTES && bufferedBytes <= MAX_BUFFERED_BYTES + frameBytes,
    `dropped with ${bufferedBytes} bytes queued`,
  );
});

// The drop queues the 1008 close behind frames the peer never reads, so the close handshake
// never finishes while the peer keeps TCP open: the socket holds its --max-connections slot
// until then, though it left the hub and gets nothing more.
Deno.test("a dropped slow consumer holds its --max-connections slot until its peer goes", async () => {
  await using server = await startTestServer({
    maxBufferedBytes: MAX_BUFFERED_BYTES,
    maxConnections: 2,
  });
  const token = await server.mintToken();
  await using reader = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(reader, token, ["feed"]);
  const stalled = await connectStalled(server, token, "feed");
  try {
    let recipients = 2;
    for (let seq = 0; seq < BROADCASTS && recipients === 2; seq++) {
      recipients = await publish(server, "feed", { seq, pad: PAD });
      await reader.next(`broadcast ${seq}`);
    }
    assert.equal(server.metrics.slowConsumersDropped, 1);
    await server.untilConnections(1);
    await assert.rejects(TestClient.connect(server.wsUrl), /cannot connect/);
  } finally {
    await stalled[Symbol.asyncDispose]();
  }
  await using _next = await connectOnceAccepted(server.wsUrl);
  await server.untilConnections(2);
});
