/**
 * The client half of channel history, on a real server with history on: offsets on messages,
 * resuming after a reconnect without a gap or a repeat, recovery events when the server
 * cannot resume, `BoreasApi.publish()` and `history()`; and, with history off, nothing new.
 */

import assert from "node:assert/strict";
import {
  BoreasApi,
  BoreasApiError,
  type BoreasSubscriber,
  type RecoveryEvent,
} from "../client/mod.ts";
import { apiOf, dropConnections, nextEvent, nextMessage, subscriberOf } from "./client_helpers.ts";
import { Gate, restartWithNewEpoch, resumeUnderLoad } from "./client_scenarios.ts";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";

/** A WebSocket class that records the joins sent, and once `hold()` is called keeps the next
 * join with a `since` from the server until `release()`, so a test can publish while the
 * subscriber is out of its channels. */
function gatedJoins() {
  const joins: Array<Record<string, unknown>> = [];
  const gate = new Gate();
  class GatedWebSocket extends WebSocket {
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data === "string" && data.includes('"join"')) {
        const frame = JSON.parse(data) as { channels: Record<string, unknown> };
        joins.push(frame.channels);
        const release = "since" in frame.channels ? gate.take() : undefined;
        if (release !== undefined) {
          void release.then(() => super.send(data));
          return;
        }
      }
      super.send(data);
    }
  }
  return {
    WebSocket: GatedWebSocket,
    joins,
    /** Holds the next join with a `since`. */
    hold: () => gate.hold(),
  };
}

/** A subscriber of `news` on `server` whose joins go through `gatedJoins()`, open, with its
 * recovery events recorded and its `events()` iterator. Disposing it closes the subscriber. */
async function openGated(server: TestServer) {
  const api = apiOf(server);
  const token = await api.createToken();
  const gated = gatedJoins();
  const recoveries: RecoveryEvent[] = [];
  const subscriber = subscriberOf(server, token, {
    channels: ["news"],
    WebSocket: gated.WebSocket,
    onRecovery: (event) => recoveries.push(event),
  });
  const events = subscriber.events()[Symbol.asyncIterator]();
  await withTimeout(subscriber.untilOpen(), "the subscriber to open");
  return {
    api,
    token,
    gated,
    recoveries,
    subscriber,
    events,
    [Symbol.asyncDispose]: () => subscriber[Symbol.asyncDispose](),
  };
}

async function untilReopened(subscriber: BoreasSubscriber): Promise<void> {
  await withTimeout(subscriber.untilState("reconnecting"), "the subscriber to notice the drop");
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");
}

Deno.test("BoreasSubscriber resumes after a drop with no gap and no repeat while publishing goes on", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const gated = gatedJoins();
  await resumeUnderLoad(server, {
    options: { WebSocket: gated.WebSocket },
    request: "the reconnect's join with since",
    hold: gated.hold,
    assertResumesAfter: (position) => {
      const since = (gated.joins.at(-1)?.since as Record<string, unknown>).news;
      assert.deepEqual(since, position);
    },
  });
});

Deno.test("BoreasSubscriber reports recovered: false when the history was trimmed meanwhile", async () => {
  await using server = await startTestServer({ historySize: 5 });
  await using opened = await openGated(server);
  const { api, token, gated, recoveries, subscriber, events } = opened;
  const { epoch } = await api.publish("news", "one");
  assert.deepEqual(await nextEvent(events, "the first message"), {
    type: "message",
    channel: "news",
    message: "one",
    offset: 1,
  });

  const gate = gated.hold();
  dropConnections(server, token);
  await withTimeout(gate.held, "the reconnect's join with since");
  await server.untilMembers("news", 0);
  // Offsets 2 to 8, of which the server keeps only the last 5: 2 and 3 are gone.
  for (let n = 2; n <= 8; n++) await api.publish("news", n);
  gate.release();
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");

  const expected: RecoveryEvent = {
    type: "recovery",
    channel: "news",
    recovered: false,
    offset: 8,
    epoch,
    since: { offset: 1, epoch: epoch! },
  };
  assert.deepEqual(await nextEvent(events, "the recovery event"), expected);
  assert.deepEqual(recoveries, [expected]);
  // Nothing is replayed; live messages go on after the reported offset.
  await api.publish("news", "live");
  assert.deepEqual(await nextEvent(events, "the live message"), {
    type: "message",
    channel: "news",
    message: "live",
    offset: 9,
  });
  assert.deepEqual(subscriber.positions, { news: { offset: 9, epoch } });
  // What is still kept of the gap can be read back.
  const kept = await api.history("news", { since: 1, limit: 3 });
  assert.deepEqual(kept, {
    epoch,
    offset: 9,
    messages: [{ offset: 5, message: 5 }, { offset: 6, message: 6 }, { offset: 7, message: 7 }],
  });
});

Deno.test("BoreasSubscriber dropped before any message gets what was published while away, in the channel's new epoch", async () => {
  await using server = await startTestServer({ historySize: 100 });
  await using opened = await openGated(server);
  const { api, token, gated, recoveries, subscriber, events } = opened;
  const gate = gated.hold();
  dropConnections(server, token);
  await withTimeout(gate.held, "the reconnect's join with since");
  await server.untilMembers("news", 0);
  // Nobody is subscribed and "news" had no message: its state is gone, and these start anew.
  const { epoch } = await api.publish("news", 1);
  await api.publish("news", 2);
  gate.release();
  await withTimeout(subscriber.untilOpen(), "the subscriber to reopen");
  await api.publish("news", 3);
  for (const offset of [1, 2, 3]) {
    assert.deepEqual(await nextEvent(events, `offset ${offset}`), {
      type: "message",
      channel: "news",
      message: offset,
      offset,
    });
  }
  assert.deepEqual(recoveries, []);
  assert.deepEqual(subscriber.positions, { news: { offset: 3, epoch } });
});

Deno.test("BoreasSubscriber reports recovered: false after a server restart (a new epoch)", async () => {
  await restartWithNewEpoch("websocket");
});

Deno.test("BoreasSubscriber with since resumes where an earlier subscriber left off", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const api = apiOf(server);
  const token = await api.createToken();
  let saved: Record<string, { offset: number; epoch: string }>;
  {
    await using first = subscriberOf(server, token, { channels: ["news"] });
    await withTimeout(first.untilOpen(), "the first subscriber to open");
    for (const n of [1, 2]) await api.publish("news", n);
    await nextMessage(first);
    await nextMessage(first);
    saved = first.positions;
  }
  for (const n of [3, 4]) await api.publish("news", n);
  await using second = subscriberOf(server, token, {
    channels: ["news"],
    since: JSON.parse(JSON.stringify(saved)),
  });
  // Published while it joins: replayed or live, it comes once, after 4.
  await api.publish("news", 5);
  for (const offset of [3, 4, 5]) {
    assert.deepEqual(await nextMessage(second, `offset ${offset}`), {
      channel: "news",
      message: offset,
      offset,
    });
  }
});

Deno.test("BoreasSubscriber.join() and leave() keep and forget positions", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const api = apiOf(server);
  const gated = gatedJoins();
  await using subscriber = subscriberOf(server, await api.createToken(), {
    WebSocket: gated.WebSocket,
  });
  await withTimeout(subscriber.join("news"), "joining news");
  const { epoch } = await api.publish("news", 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: 1, offset: 1 });
  assert.deepEqual(subscriber.positions, { news: { offset: 1, epoch } });
  // Joining again names the position; leaving forgets it, so a later join starts afresh.
  await withTimeout(subscriber.join("news"), "joining news again");
  assert.deepEqual(gated.joins.at(-1)?.since, { news: { offset: 1, epoch } });
  await withTimeout(subscriber.leave("news"), "leaving news");
  assert.deepEqual(subscriber.positions, {});
  await withTimeout(subscriber.join("news"), "joining news afresh");
  assert.deepEqual(gated.joins.at(-1), { join: ["news"], leave: [] });
  assert.deepEqual(subscriber.positions, { news: { offset: 1, epoch } });
});

Deno.test("BoreasApi.publish() and history() expose offsets, epochs and the kept messages", async () => {
  await using server = await startTestServer({ historySize: 3 });
  const api = apiOf(server);
  const first = await api.publish("café/news", { n: 1 });
  assert.deepEqual(first, { recipients: 0, offset: 1, epoch: first.epoch });
  assert.equal(typeof first.epoch, "string");
  assert.deepEqual(await api.publish("café/news", 0, { dryRun: true }), { recipients: 0 });
  assert.equal(await api.broadcast("café/news", { n: 2 }), 0);
  for (const n of [3, 4]) await api.publish("café/news", { n });
  assert.deepEqual(await api.history<{ n: number }>("café/news"), {
    epoch: first.epoch,
    offset: 4,
    messages: [2, 3, 4].map((n) => ({ offset: n, message: { n } })),
  });
  assert.deepEqual((await api.history("café/news", { since: 2, limit: 1 })).messages, [
    { offset: 3, message: { n: 3 } },
  ]);
  const empty = await api.history("quiet");
  assert.deepEqual(empty, { epoch: empty.epoch, offset: 0, messages: [] });
});

Deno.test("BoreasApi.history() refuses what no request can say, without fetching", async () => {
  const api = new BoreasApi({ url: "http://127.0.0.1:9", fetch: () => assert.fail("fetched") });
  await assert.rejects(api.history("token"), RangeError);
  await assert.rejects(api.history(".."), RangeError);
  await assert.rejects(api.history("news", { since: -1 }), RangeError);
  await assert.rejects(api.history("news", { since: 1.5 }), RangeError);
  await assert.rejects(api.history("news", { limit: 0 }), RangeError);
});

Deno.test("BoreasSubscriber with history off: no offsets, no since, no recovery events", async () => {
  await using server = await startTestServer();
  await using opened = await openGated(server);
  const { api, token, gated, recoveries, subscriber, events } = opened;
  assert.deepEqual(await api.publish("news", 1), { recipients: 1 });
  assert.deepEqual(await nextEvent(events, "a message"), {
    type: "message",
    channel: "news",
    message: 1,
  });
  dropConnections(server, token);
  await untilReopened(subscriber);
  await server.untilMembers("news", 1);
  assert.equal(await api.broadcast("news", 2), 1);
  assert.deepEqual(await nextMessage(subscriber), { channel: "news", message: 2 });
  assert.deepEqual(gated.joins, [{ join: ["news"], leave: [] }, { join: ["news"], leave: [] }]);
  assert.deepEqual(subscriber.positions, {});
  assert.deepEqual(recoveries, []);
  await assert.rejects(api.history("news"), (error) => {
    assert.ok(error instanceof BoreasApiError);
    assert.equal(error.status, 404);
    assert.match(error.message, /--history-size/);
    return true;
  });
});
