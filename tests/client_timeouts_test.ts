/**
 * The client against servers that stop answering: a WebSocket handshake that never completes
 * (the subscriber gives up after `replyTimeoutMs` and reconnects, and `auto` counts it as a
 * failed WebSocket), a WebSocket whose token is never answered, and an SSE stream that goes
 * silent (taken for dead after `sseIdleTimeoutMs`, keepalive comments included).
 */

import assert from "node:assert/strict";
import { BoreasSubscriber, BoreasSubscriberError, type SubscriberState } from "../client/mod.ts";
import { apiOf, assertFellBackToSse, iterationError, subscriberOf } from "./client_helpers.ts";
import { startMuteListener, startSilentSseServer } from "./client_silent_servers.ts";
import { startTestServer, withTimeout } from "./helpers.ts";
import { startSseOnlyProxy, type UpgradeHandling } from "./sse_only_proxy.ts";

Deno.test("BoreasSubscriber validates sseIdleTimeoutMs", () => {
  const options = { url: "ws://127.0.0.1:9/", token: "T", transport: "sse" } as const;
  for (const sseIdleTimeoutMs of [0, -1, Number.NaN]) {
    assert.throws(() => new BoreasSubscriber({ ...options, sseIdleTimeoutMs }), {
      name: "RangeError",
      message: `sseIdleTimeoutMs: expected a number > 0, got ${sseIdleTimeoutMs}`,
    });
  }
});

Deno.test("BoreasSubscriber gives up on a WebSocket handshake that is never answered", async (t) => {
  await using listener = startMuteListener();

  await t.step("with reconnect: false, it ends with 4000 after replyTimeoutMs", async () => {
    const subscriber = subscriberOf(listener, "T", { replyTimeoutMs: 50, reconnect: false });
    const error = await iterationError(subscriber);
    assert.ok(error instanceof BoreasSubscriberError, String(error));
    assert.equal(error.kind, "disconnected");
    assert.equal(error.closeCode, 4000);
    assert.equal(error.closeReason, "no reply");
    assert.equal(listener.accepted, 1);
  });

  await t.step("otherwise it connects again after its back-off", async () => {
    const states: SubscriberState[] = [];
    await using subscriber = subscriberOf(listener, "T", { replyTimeoutMs: 50, states });
    await withTimeout(listener.untilAccepted(3), "two more connections");
    assert.equal(subscriber.state, "connecting");
    await withTimeout(subscriber.close(), "close");
    assert.deepEqual(states, ["closed"]);
  });
});

for (
  const [handling, what] of [
    ["hang", "the WebSocket handshake is never answered"],
    ["ignore", "the WebSocket opens but its token is never answered"],
  ] as const satisfies ReadonlyArray<readonly [UpgradeHandling, string]>
) {
  Deno.test(`BoreasSubscriber with transport auto falls back to SSE when ${what}`, async () => {
    await using server = await startTestServer();
    await using proxy = startSseOnlyProxy(server.wsUrl, { upgrades: handling });
    const api = apiOf(server);
    const token = await api.createToken();
    await using subscriber = subscriberOf(proxy, token, {
      transport: "auto",
      channels: ["news"],
      replyTimeoutMs: 100,
    });
    await assertFellBackToSse(subscriber, proxy, api);
  });
}

Deno.test("BoreasSubscriber over SSE takes a stream that goes silent for dead after sseIdleTimeoutMs", async () => {
  await using silent = startSilentSseServer();
  const states: SubscriberState[] = [];
  const subscriber = subscriberOf(silent, "T", {
    transport: "sse",
    channels: ["news"],
    sseIdleTimeoutMs: 100,
    reconnect: false,
    states,
  });
  const error = await iterationError(subscriber);
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "disconnected");
  assert.equal(error.closeCode, 4000);
  assert.equal(error.closeReason, "nothing received in 100 ms");
  assert.deepEqual(states, ["open", "closed"]);
  await withTimeout(silent.untilCancelled(1), "the stream's body to be cancelled");
});

Deno.test("BoreasSubscriber over SSE is kept alive by comments, then resumes after the silence", async () => {
  const COMMENTS = 20;
  await using silent = startSilentSseServer({ comments: COMMENTS, intervalMs: 10 });
  const states: SubscriberState[] = [];
  const since = { news: { offset: 3, epoch: "e1" } };
  await using subscriber = subscriberOf(silent, "T", {
    transport: "sse",
    channels: ["news"],
    since,
    // Well above the comments' interval, well below all of them together.
    sseIdleTimeoutMs: 150,
    states,
  });
  await withTimeout(silent.untilStreams(2), "the reconnect after the silence");
  assert.equal(silent.commentsSent[0], COMMENTS, "the first stream lasted through its comments");
  assert.deepEqual(silent.lastEventIds, ["news=3:e1", "news=3:e1"]);
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");
  await withTimeout(subscriber.close(), "close");
  assert.deepEqual(states, ["open", "reconnecting", "open", "closed"]);
  await withTimeout(silent.untilCancelled(2), "both streams' bodies to be cancelled");
});
