import assert from "node:assert/strict";
import { BoreasSubscriber, BoreasSubscriberError, type SubscriberState } from "../client/mod.ts";
import {
  apiOf,
  FAST_RECONNECT,
  iterationError,
  nextMessage,
  subscriberOf,
} from "./client_helpers.ts";
import { shutDownWithoutReconnect } from "./client_scenarios.ts";
import { startTestServer, withTimeout } from "./helpers.ts";

/** A WebSocket that silently drops the frames `isDropped` picks, as a stalled network would. */
function droppingSends(isDropped: (frame: string) => boolean): typeof WebSocket {
  return class extends WebSocket {
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data === "string" && isDropped(data)) return;
      super.send(data);
    }
  };
}

Deno.test("BoreasSubscriber reconnects to a restarted server, re-authenticates and re-joins", async () => {
  const serverA = await startTestServer();
  const { apiAddr, wsAddr } = serverA;
  const token = await apiOf(serverA).createToken();
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(serverA, token, { channels: ["news"], states });
  try {
    await withTimeout(subscriber.untilOpen(), "the subscriber to open on server A");
    await withTimeout(subscriber.join("weather"), "joining weather on server A");
    await serverA.untilMembers("weather", 1);
  } finally {
    await serverA.shutdown();
  }
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");

  // Server B knows the token only from its startup tokens, like a token provider's.
  await using serverB = await startTestServer(
    { apiPort: apiAddr.port, wsPort: wsAddr.port },
    { tokens: [token] },
  );
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen on server B");
  await serverB.untilAuthenticated(token, 1);
  await serverB.untilMembers("news", 1);
  await serverB.untilMembers("weather", 1);
  assert.deepEqual(states, ["open", "reconnecting", "open"]);
  assert.deepEqual(subscriber.channels, ["news", "weather"]);

  const api = apiOf(serverB);
  assert.equal(await api.broadcast("weather", { sky: "clear" }), 1);
  assert.deepEqual(await nextMessage(subscriber), {
    channel: "weather",
    message: { sky: "clear" },
  });
  await withTimeout(subscriber.close(), "close");
  assert.deepEqual(states, ["open", "reconnecting", "open", "closed"]);
});

Deno.test("BoreasSubscriber.close() during back-off clears the reconnect timer", async () => {
  const server = await startTestServer();
  const token = await apiOf(server).createToken();
  // A back-off far longer than any wait: only clearing the timer lets the test end cleanly.
  await using subscriber = subscriberOf(server, token, {
    reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await server.shutdown();
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");
  await withTimeout(subscriber.close(), "close during back-off");
  assert.equal(subscriber.state, "closed");
  assert.equal(subscriber.error, undefined);
});

Deno.test("BoreasSubscriber.close() while connecting to nothing stops retrying", async () => {
  const server = await startTestServer();
  const gone = { wsUrl: server.wsUrl };
  await server.shutdown();
  const states: SubscriberState[] = [];
  const attempts: string[] = [];
  let seenTwo: () => void = () => {};
  const retried = new Promise<void>((resolve) => seenTwo = resolve);
  await using subscriber = subscriberOf(gone, "T", {
    states,
    WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url);
        attempts.push(url);
        if (attempts.length === 2) seenTwo();
      }
    },
  });
  await withTimeout(retried, "a second connection attempt");
  assert.equal(subscriber.state, "connecting");
  await withTimeout(subscriber.close(), "close while connecting");
  assert.deepEqual(states, ["closed"]);
  assert.equal(subscriber.error, undefined);
});

Deno.test("BoreasSubscriber.connect() gives up with the signal's reason when it aborts", async () => {
  const server = await startTestServer();
  const gone = server.wsUrl;
  await server.shutdown();
  const controller = new AbortController();
  let attempts = 0;
  let retried: () => void = () => {};
  const isRetrying = new Promise<void>((resolve) => retried = resolve);
  const connecting = BoreasSubscriber.connect({
    url: gone,
    token: "T",
    reconnect: FAST_RECONNECT,
    signal: controller.signal,
    WebSocket: class extends WebSocket {
      constructor(url: string) {
        super(url);
        if (++attempts === 2) retried();
      }
    },
  });
  await withTimeout(isRetrying, "a second connection attempt");
  controller.abort(new Error("enough"));
  // connect() closes the subscriber, socket and timer included, before it rejects.
  await assert.rejects(withTimeout(connecting, "connect() to give up"), /enough/);
});

Deno.test("BoreasSubscriber with reconnect: false ends with a disconnected error", async () => {
  await shutDownWithoutReconnect(await startTestServer(), "websocket");
});

Deno.test("BoreasSubscriber gives up after three authentication timeouts (4003) in a row", async () => {
  await using server = await startTestServer({ authTimeout: 0.05 });
  const token = await apiOf(server).createToken();
  let connections = 0;
  const MutedAuth = droppingSends((frame) => frame.includes('"access_token"'));
  await using subscriber = subscriberOf(server, token, {
    WebSocket: class extends MutedAuth {
      constructor(url: string) {
        super(url);
        connections++;
      }
    },
  });
  const error = await iterationError(subscriber);
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "auth-timeout");
  assert.equal(error.closeCode, 4003);
  assert.equal(connections, 3);
  await server.untilConnections(0);
});

Deno.test("BoreasSubscriber takes a connection that does not reply for dead and reconnects", async () => {
  await using server = await startTestServer();
  const token = await apiOf(server).createToken();
  // The first authentication goes missing; the next connection's gets through.
  let authFrames = 0;
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(server, token, {
    states,
    replyTimeoutMs: 50,
    channels: ["news"],
    WebSocket: droppingSends((frame) => frame.includes('"access_token"') && ++authFrames === 1),
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open on a second connection");
  assert.equal(authFrames, 2);
  assert.deepEqual(states, ["open"]);
  await server.untilMembers("news", 1);
});

Deno.test("BoreasSubscriber.join() cut off by a drop is retried on the next connection", async () => {
  await using server = await startTestServer();
  const api = apiOf(server);
  const token = await api.createToken();
  let isFirstJoin = true;
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(server, token, {
    states,
    channels: ["news"],
    // The first `join: ["late"]` never reaches the server: the socket closes instead.
    WebSocket: class extends WebSocket {
      override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
        if (typeof data === "string" && data.includes('"late"') && isFirstJoin) {
          isFirstJoin = false;
          this.close(4000, "simulated drop");
          return;
        }
        super.send(data);
      }
    },
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await withTimeout(subscriber.join("late"), "the join to be retried and confirmed");
  assert.deepEqual(states, ["open", "reconnecting", "open"]);
  assert.deepEqual(subscriber.channels, ["news", "late"]);
  await server.untilMembers("late", 1);
  await server.untilMembers("news", 1);
  assert.equal(await api.broadcast("late", "made it"), 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "late", message: "made it" });
});
