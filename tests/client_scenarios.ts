/**
 * @module
 * Scenarios the client's tests run over both transports, a WebSocket (`client_resume_test.ts`,
 * `client_test.ts`, `client_reconnect_test.ts`) and SSE (`client_sse_test.ts`): the same steps
 * and assertions, given the transport, and for resuming under load a `ResumeAdapter` that says
 * how to hold the subscriber's reconnect and checks what the reconnect asked to resume from.
 */

import assert from "node:assert/strict";
import {
  type BoreasApi,
  BoreasSubscriberError,
  type BoreasSubscriberOptions,
  type Published,
  type RecoveryEvent,
  type StreamPosition,
  type SubscriberState,
  type SubscriberTransport,
} from "../client/mod.ts";
import {
  apiOf,
  dropConnections,
  iterationError,
  nextEvent,
  nextMessage,
  subscriberOf,
} from "./client_helpers.ts";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";

/** A request held by a `Gate`: `held` resolves once it is held; `release()` lets it go. */
export interface Hold {
  readonly held: Promise<void>;
  release(): void;
}

/** Holds one request until the test releases it, so that a test can publish while the
 * subscriber is away; a gated `WebSocket` or `fetch` asks it about each request it sends. */
export class Gate {
  #next: { held: PromiseWithResolvers<void>; release: PromiseWithResolvers<void> } | undefined;

  /** Holds the next request that `take()` is called for. */
  hold(): Hold {
    const next = { held: Promise.withResolvers<void>(), release: Promise.withResolvers<void>() };
    this.#next = next;
    return { held: next.held.promise, release: () => next.release.resolve() };
  }

  /** For a request about to go out: the release to wait for when a hold is pending (which it
   * uses up), else `undefined`, and the request goes at once. */
  take(): Promise<void> | undefined {
    const next = this.#next;
    if (next === undefined) return undefined;
    this.#next = undefined;
    next.held.resolve();
    return next.release.promise;
  }
}

/** How `resumeUnderLoad()` reaches one transport's reconnect. */
export interface ResumeAdapter {
  /** Subscriber options that pick the transport and send its requests through a `Gate`. */
  readonly options: Partial<BoreasSubscriberOptions>;
  /** The reconnect's request, as the wait for it to be held names it. */
  readonly request: string;
  /** Holds the subscriber's next reconnect request. */
  hold(): Hold;
  /** Asserts the held reconnect asked to resume `news` after `position`. */
  assertResumesAfter(position: StreamPosition): void;
}

/** Publishes 1, 2, 3, … to `news` without pause until `stop()`; `publishOne()` publishes the
 * next number from outside the loop. `payloadAt` maps each answered offset to its number. */
function publishing(api: BoreasApi) {
  const payloadAt = new Map<number, number>();
  let count = 0;
  const publishOne = async (): Promise<Published> => {
    const n = ++count;
    const answer = await api.publish("news", n);
    assert.ok(answer.offset !== undefined, "a broadcast with history on answers its offset");
    payloadAt.set(answer.offset, n);
    return answer;
  };
  let isPublishing = true;
  const loop = (async () => {
    while (isPublishing) await publishOne();
  })();
  return {
    payloadAt,
    publishOne,
    /** How many numbers have been published or are being published. */
    count: () => count,
    stop: async () => {
      isPublishing = false;
      await loop;
    },
  };
}

/** A subscriber of `news` on `server` (history on) drops its connection while publishing goes
 * on, and its reconnect is held while 10 more are published. Asserts the reconnect asked to
 * resume after everything received, and that every offset came once, in order, with its
 * payload, and no recovery event. */
export async function resumeUnderLoad(server: TestServer, adapter: ResumeAdapter): Promise<void> {
  const api = apiOf(server);
  const token = await api.createToken();
  const recoveries: RecoveryEvent[] = [];
  await using subscriber = subscriberOf(server, token, {
    ...adapter.options,
    channels: ["news"],
    onRecovery: (event) => recoveries.push(event),
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  const publisher = publishing(api);
  const received: Array<{ offset: number | undefined; message: unknown }> = [];
  const receive = async (what: string) => {
    const { offset, message } = await nextMessage(subscriber, what);
    received.push({ offset, message });
  };
  let gate: Hold | undefined;
  try {
    while (received.length < 20) await receive("a live message before the drop");
    gate = adapter.hold();
    dropConnections(server, token);
    await withTimeout(gate.held, adapter.request);
    await server.untilMembers("news", 0);
    // Everything received before the drop is queued by now: the reconnect resumes after it.
    const position = subscriber.positions.news;
    assert.ok(position !== undefined, "a position in news after 20 messages");
    adapter.assertResumesAfter(position);
    const missed: Published[] = [];
    for (let i = 0; i < 10; i++) missed.push(await publisher.publishOne());
    assert.ok(missed.every((answer) => answer.recipients === 0), "published while away");
    gate.release();
    await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");
    const afterReopen = publisher.count();
    while ((received.at(-1)?.offset ?? 0) < afterReopen + 10) {
      await receive("replayed and live messages");
    }
  } finally {
    // A failed assertion must not leave the reconnect held: closing the subscriber waits for it.
    gate?.release();
    await publisher.stop();
  }
  const last = (await api.publish("news", "last")).offset!;
  while (received.at(-1)?.offset !== last) await receive("the last message");

  assert.deepEqual(recoveries, []);
  assert.deepEqual(
    received.map(({ offset }) => offset),
    Array.from({ length: last }, (_, i) => i + 1),
    "every offset once, in order",
  );
  for (const { offset, message } of received.slice(0, -1)) {
    assert.equal(message, publisher.payloadAt.get(offset!), `the payload at offset ${offset}`);
  }
}

/** A server with history, holding `news` at offset 2, restarts on the same ports with a new
 * epoch, and a subscriber over `transport` reconnects to it. Asserts it reports `news` not
 * recovered, with where it stood and where the channel stands now, then takes offset 1 of the
 * new epoch. */
export async function restartWithNewEpoch(transport: SubscriberTransport): Promise<void> {
  const serverA = await startTestServer({ historySize: 100 });
  const { apiAddr, wsAddr } = serverA;
  const token = await apiOf(serverA).createToken();
  const recoveries: RecoveryEvent[] = [];
  await using subscriber = subscriberOf(serverA, token, {
    transport,
    channels: ["news"],
    onRecovery: (event) => recoveries.push(event),
  });
  const events = subscriber.events()[Symbol.asyncIterator]();
  let oldEpoch: string | undefined;
  try {
    await withTimeout(subscriber.untilOpen(), "the subscriber to open on server A");
    oldEpoch = (await apiOf(serverA).publish("news", "a1")).epoch;
    await apiOf(serverA).publish("news", "a2");
    for (const [offset, message] of [[1, "a1"], [2, "a2"]] as const) {
      assert.deepEqual(await nextEvent(events, message), {
        type: "message",
        channel: "news",
        message,
        offset,
      });
    }
    assert.deepEqual(subscriber.positions, { news: { offset: 2, epoch: oldEpoch } });
  } finally {
    await serverA.shutdown();
  }
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");
  await using serverB = await startTestServer(
    { apiPort: apiAddr.port, wsPort: wsAddr.port, historySize: 100 },
    { tokens: [token] },
  );
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen on server B");
  const recovery = await nextEvent(events, "the recovery event");
  assert.deepEqual(recoveries, [recovery]);
  const { epoch } = await apiOf(serverB).publish("news", "b1");
  assert.ok(epoch !== undefined && epoch !== oldEpoch, "a new epoch");
  // The recovery event says where the channel stands now: empty, under the epoch its first
  // message will get.
  assert.deepEqual(recovery, {
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: 0,
    epoch,
    since: { offset: 2, epoch: oldEpoch },
  });
  // Offset 1 again, in the new epoch: taken, not dropped as a repeat of the old offset 1.
  assert.deepEqual(await nextEvent(events, "b1"), {
    type: "message",
    channel: "news",
    message: "b1",
    offset: 1,
  });
  assert.deepEqual(subscriber.positions, { news: { offset: 1, epoch } });
}

/** A subscriber over `transport` has its token revoked. Asserts it ends with a token-revoked
 * error (4001) without trying to reconnect, and the server has no connection left; returns the
 * revoked token. */
export async function revokeWhileSubscribed(
  server: TestServer,
  transport: SubscriberTransport,
): Promise<string> {
  const api = apiOf(server);
  const token = await api.createToken();
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(server, token, { transport, channels: ["news"], states });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await api.revokeToken(token);
  const error = await iterationError(subscriber);
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "token-revoked");
  assert.equal(error.closeCode, 4001);
  assert.equal(error.closeReason, "token revoked");
  assert.equal(subscriber.state, "closed");
  assert.equal(subscriber.error, error);
  // It did not try to reconnect with a revoked token.
  assert.deepEqual(states, ["open", "closed"]);
  await server.untilConnections(0);
  return token;
}

/** `server` shuts down under a subscriber over `transport` with `reconnect: false`. Asserts the
 * subscription ends with a disconnected error carrying the server's close (1001). */
export async function shutDownWithoutReconnect(
  server: TestServer,
  transport: SubscriberTransport,
): Promise<void> {
  const token = await apiOf(server).createToken();
  await using subscriber = subscriberOf(server, token, {
    transport,
    channels: ["a"],
    reconnect: false,
  });
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  await server.shutdown();
  const error = await iterationError(subscriber);
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "disconnected");
  assert.equal(error.closeCode, 1001);
  assert.equal(error.closeReason, "server shutting down");
}
