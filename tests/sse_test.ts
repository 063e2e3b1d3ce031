/** The SSE transport (`GET /events`) on a real server, read as a browser's EventSource would:
 * authentication, channels and grants, frames, history ids and Last-Event-ID, the final close
 * event, and counting beside WebSockets. */

import assert from "node:assert/strict";
import { startTestServer, type TestServer, withTimeout } from "./helpers.ts";
import { readErrors, readJson } from "./integration_helpers.ts";
import { OPEN_GRANT } from "../src/grants.ts";

/** One event as EventSource would see it. */
interface SseEvent {
  event?: string;
  id?: string;
  data: string;
}

/** An open stream and its parsed events. */
class SseReader implements AsyncDisposable {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(response: Response) {
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event, comments skipped; rejects after the wait. */
  async next(what = "an SSE event", ms = 2_000): Promise<SseEvent> {
    return await withTimeout(this.#next(), what, ms);
  }

  async #next(): Promise<SseEvent> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end !== -1) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const event: SseEvent = { data: "" };
        let isComment = true;
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          isComment = false;
          const colon = line.indexOf(": ");
          const [field, value] = [line.slice(0, colon), line.slice(colon + 2)];
          if (field === "data") event.data = value;
          else if (field === "event") event.event = value;
          else if (field === "id") event.id = value;
        }
        if (!isComment) return event;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the stream ended");
      this.#buffer += value;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

async function open(server: TestServer, query: string, headers: HeadersInit = {}) {
  const url = server.wsUrl.replace(/^ws/, "http").replace(/\/$/, "");
  return await fetch(`${url}/events?${query}`, { headers });
}

async function publish(server: TestServer, channel: string, payload: unknown) {
  const response = await server.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload }),
  });
  return (await readJson(response, 200)).value as Record<string, unknown>;
}

async function mint(server: TestServer, body: unknown = {}): Promise<string> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return ((await readJson(response, 200)).value as { token: string }).token;
}

Deno.test("GET /events refuses a missing or unknown token, no channel, or one outside the grant", async () => {
  await using server = await startTestServer();
  assert.deepEqual(await readErrors(await open(server, "channel=news"), 401), [
    "access_token: expected Authorization: Bearer T or ?access_token=T",
  ]);
  assert.deepEqual(await readErrors(await open(server, "channel=news&access_token=nope"), 401), [
    "access_token: unknown token",
  ]);
  const token = await mint(server, { channels: ["room:*"] });
  assert.deepEqual(await readErrors(await open(server, `access_token=${token}`), 400), [
    "channel: expected at least one ?channel=NAME",
  ]);
  const outside = await open(server, "channel=room:1&channel=news", {
    authorization: `Bearer ${token}`,
  });
  assert.deepEqual(await readErrors(outside, 403), ["channel[1]: not permitted by this token"]);
});

Deno.test("GET /events streams a channel's broadcasts and counts like a WebSocket", async () => {
  await using server = await startTestServer();
  const token = await mint(server, { user: "7" });
  const response = await open(server, "channel=news", { authorization: `Bearer ${token}` });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  await using stream = new SseReader(response);
  assert.deepEqual(await publish(server, "news", { n: 1 }), { recipients: 1 });
  assert.deepEqual(await stream.next(), { data: '{"message": {"n":1}, "channel": "news"}' });
  assert.deepEqual((await readJson(await server.api("/presence/news/"), 200)).value, {
    connections: 1,
    users: ["7"],
  });
  assert.deepEqual((await readJson(await server.api("/token/"), 200)).value, { tokens: [token] });
});

Deno.test("GET /events with history: ids carry positions and Last-Event-ID resumes", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const token = await mint(server);
  let lastId: string;
  {
    const response = await open(server, `channel=news&access_token=${token}`);
    await using stream = new SseReader(response);
    // First, before any message: where the channel is, so that a stream dropped now resumes.
    const start = await stream.next("the positions");
    assert.equal(start.data, "");
    assert.match(start.id!, /^news=0:[0-9a-f]{16}$/);
    await publish(server, "news", 1);
    const first = await stream.next();
    assert.equal(first.data, '{"message": 1, "channel": "news", "offset": 1}');
    assert.match(first.id!, /^news=1:[0-9a-f]{16}$/);
    lastId = first.id!;
  }
  await publish(server, "news", 2);
  await publish(server, "news", 3);
  const response = await open(server, `channel=news&access_token=${token}`, {
    "last-event-id": lastId,
  });
  await using stream = new SseReader(response);
  assert.deepEqual(await stream.next("the positions"), { id: lastId, data: "" });
  assert.equal(
    (await stream.next("replayed 2")).data,
    '{"message": 2, "channel": "news", "offset": 2}',
  );
  assert.equal(
    (await stream.next("replayed 3")).data,
    '{"message": 3, "channel": "news", "offset": 3}',
  );
  await publish(server, "news", 4);
  assert.equal(
    (await stream.next("live 4")).data,
    '{"message": 4, "channel": "news", "offset": 4}',
  );
  const stale = await open(server, `channel=news&access_token=${token}`, {
    "last-event-id": "news=2:00000000",
  });
  await using told = new SseReader(stale);
  const recovery = await told.next("the recovery event");
  assert.equal(recovery.event, "recovery");
  // Where the channel is now, as a WebSocket join's reply says.
  assert.match(
    recovery.data,
    /^\{"channel":"news","recovered":false,"offset":4,"epoch":"[0-9a-f]{16}"\}$/,
  );
});

Deno.test("GET /events with history off: a Last-Event-ID's channels are reported not recovered", async () => {
  await using server = await startTestServer();
  const token = await mint(server);
  const response = await open(server, `channel=a&channel=b&access_token=${token}`, {
    "last-event-id": "a=3:abcd1234",
  });
  await using stream = new SseReader(response);
  assert.deepEqual(await stream.next("the recovery event"), {
    event: "recovery",
    data: '{"channel":"a","recovered":false}',
  });
  await publish(server, "b", "live");
  // No positions and no ids without history: the next event is the message.
  assert.deepEqual(await stream.next("the message"), {
    data: '{"message": "live", "channel": "b"}',
  });
});

Deno.test("GET /events resuming several channels: each id says only what has been sent", async () => {
  await using server = await startTestServer({ historySize: 100 });
  const token = await mint(server);
  for (const [channel, n] of [["a", 1], ["a", 2], ["b", 1], ["b", 2]] as const) {
    await publish(server, channel, n);
  }
  const epochOf = async (channel: string) =>
    ((await readJson(await server.api(`/history/${channel}/`), 200)).value as { epoch: string })
      .epoch;
  const [a, b] = [await epochOf("a"), await epochOf("b")];
  const response = await open(server, `channel=a&channel=b&access_token=${token}`, {
    "last-event-id": `a=0:${a},b=0:${b}`,
  });
  await using stream = new SseReader(response);
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await stream.next(`event ${i + 1}`)).id);
  assert.deepEqual(ids, [
    `a=0:${a},b=0:${b}`,
    `a=1:${a},b=0:${b}`,
    `a=2:${a},b=0:${b}`,
    `a=2:${a},b=1:${b}`,
    `a=2:${a},b=2:${b}`,
  ]);
});

Deno.test("GET /events answers CORS for the origins that may connect", async () => {
  const preflight = (server: TestServer, origin: string) =>
    fetch(`${server.wsUrl.replace(/^ws/, "http")}events`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "GET",
        "access-control-request-headers": "authorization, last-event-id",
      },
    });
  {
    await using server = await startTestServer();
    const answer = await preflight(server, "https://app.example");
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get("access-control-allow-origin"), "*");
    assert.equal(answer.headers.get("access-control-allow-methods"), "GET");
    assert.equal(
      answer.headers.get("access-control-allow-headers"),
      "Authorization, Last-Event-ID",
    );
    const token = await mint(server);
    const stream = await open(server, `channel=news&access_token=${token}`, {
      origin: "https://app.example",
    });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get("access-control-allow-origin"), "*");
    await stream.body?.cancel();
  }
  await using server = await startTestServer({ allowedOrigins: ["https://app.example"] });
  const listed = await preflight(server, "https://app.example");
  assert.equal(listed.status, 204);
  assert.equal(listed.headers.get("access-control-allow-origin"), "https://app.example");
  assert.equal(listed.headers.get("vary"), "Origin");
  const refused = await open(server, "channel=news", {
    authorization: "Bearer nope",
    origin: "https://app.example",
  });
  // A refusal the page can read: 401, with the CORS header.
  assert.equal(refused.headers.get("access-control-allow-origin"), "https://app.example");
  assert.deepEqual(await readErrors(refused, 401), ["access_token: unknown token"]);
  const other = await preflight(server, "https://evil.example");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  await other.body?.cancel();
  const otherGet = await open(server, "channel=news", { origin: "https://evil.example" });
  assert.equal(otherGet.headers.get("access-control-allow-origin"), null);
  await readErrors(otherGet, 403);
});

Deno.test("GET /events ends with event: close on shutdown and on expiry", async () => {
  const server = await startTestServer();
  const token = await mint(server, { ttl: 1 });
  const long = await mint(server);
  await using expiring = new SseReader(await open(server, `channel=a&access_token=${token}`));
  await using staying = new SseReader(await open(server, `channel=a&access_token=${long}`));
  assert.deepEqual(await expiring.next("the expiry close", 3_000), {
    event: "close",
    data: '{"code":4004,"reason":"token expired"}',
  });
  await server.shutdown();
  assert.deepEqual(await staying.next("the shutdown close"), {
    event: "close",
    data: '{"code":1001,"reason":"server shutting down"}',
  });
});

Deno.test("GET /events counts against --max-connections", async () => {
  await using server = await startTestServer({ maxConnections: 1 });
  const token = await mint(server);
  await using first = new SseReader(await open(server, `channel=a&access_token=${token}`));
  assert.deepEqual(await readErrors(await open(server, `channel=a&access_token=${token}`), 503), [
    "too many connections (at most 1)",
  ]);
  assert.ok(first);
});

Deno.test("a stream closed while it opens leaves no keep-alive behind", async () => {
  await using server = await startTestServer();
  const token = await server.tokens.mint({ ...OPEN_GRANT, user: "alice" });
  // The join's sync (the stream's second) is held, as a slow Redis round trip would hold it.
  const membership = server.cluster.membership;
  const synced = membership.synced.bind(membership);
  let syncs = 0;
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  let joining = () => {};
  const isJoining = new Promise<void>((resolve) => joining = resolve);
  membership.synced = async () => {
    if (++syncs === 2) {
      joining();
      await released;
    }
    return await synced();
  };
  try {
    const url = `${server.wsUrl.replace(/^ws/, "http")}events?channel=room&access_token=${token}`;
    const streaming = fetch(url);
    await isJoining;
    const closed = await server.api("/users/alice/", { method: "DELETE" });
    await closed.body?.cancel();
    release();
    const response = await streaming;
    await response.body?.cancel();
    assert.equal(server.hub.connectionCount, 0);
  } finally {
    membership.synced = synced;
  }
  // The test sanitizer fails the test on an interval left running.
});
