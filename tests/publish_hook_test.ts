/**
 * The publish hook on real servers, standalone and across two cluster nodes, against a real
 * local backend: what it is asked and how it is signed, its accept, replace and reject answers,
 * every way it can fail (each refuses, nothing is delivered unchecked), API broadcasts that
 * never go through it, and publications that keep their order through it.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { tokenFingerprint } from "../src/tokens.ts";
import { startNode } from "./cluster_helpers.ts";
import { startTestServer, TestClient, type TestServer, withTimeout } from "./helpers.ts";
import {
  closedPortUrl,
  type HookBackend,
  silentBackend,
  startHookBackend,
} from "./hook_backend.ts";
import { assertNothingReceived, broadcast, readJson } from "./integration_helpers.ts";
import { authenticated, mint, type Setup } from "./modes.ts";
import { startRedis } from "./redis_server.ts";

const SECRET = "hook-secret";

/** Runs `body` standalone and on two cluster nodes (minting and a second subscriber on one,
 * the publisher on the other), against a fresh backend; `overrides` may name it. */
function hookModes(
  name: string,
  body: (setup: Setup, backend: HookBackend) => Promise<void>,
  overrides: (backend: HookBackend) => Partial<Config> = () => ({}),
): void {
  const configOf = (backend: HookBackend): Partial<Config> => ({
    publishHookUrl: backend.url,
    webhookSecret: SECRET,
    ...overrides(backend),
  });
  Deno.test(`standalone: ${name}`, async () => {
    await using backend = startHookBackend(SECRET);
    await using server = await startTestServer(configOf(backend));
    await body({ minter: server, server }, backend);
  });
  Deno.test(`cluster: ${name}`, async () => {
    await using backend = startHookBackend(SECRET);
    await using redis = await startRedis();
    await using a = await startNode(redis.url, "a", configOf(backend));
    await using b = await startNode(redis.url, "b", configOf(backend));
    await body({ minter: a, server: b }, backend);
  });
}

/** A client of `server` with a token minted on `minter` from `grant`, in `channels`; and its
 * token. */
async function member(
  { minter, server }: { minter: TestServer; server: TestServer },
  grant: Record<string, unknown>,
  channels: string[],
): Promise<{ client: TestClient; token: string }> {
  const token = (await mint(minter, grant)).token as string;
  const client = await authenticated(server, token);
  // With history on, the reply lists the channels' positions too.
  const joined = await client.request({ channels: { join: channels, leave: [] } }, "join");
  assert.equal((joined as { ok?: boolean }).ok, true, JSON.stringify(joined));
  return { client, token };
}

/** A publisher (alice, on `setup.server`), a reader on the same node, and one on the minter's
 * node (the other one in cluster mode), all in `room`. */
async function room(setup: Setup) {
  const { client: alice, token } = await member(
    setup,
    { user: "alice", publish: ["room"] },
    ["room"],
  );
  const { client: reader } = await member(setup, {}, ["room"]);
  const { client: farReader } = await member({ ...setup, server: setup.minter }, {}, ["room"]);
  return {
    alice,
    token,
    reader,
    farReader,
    async [Symbol.asyncDispose]() {
      for (const client of [alice, reader, farReader]) await client[Symbol.asyncDispose]();
    },
  };
}

function publish(client: TestClient, payload: unknown, ref: number) {
  return client.request({ publish: { channel: "room", payload } }, ref);
}

hookModes("the backend is asked, signed, who publishes what, and {} delivers it as sent", async (
  setup,
  backend,
) => {
  await using chat = await room(setup);
  assert.deepEqual(await publish(chat.alice, { text: "hi" }, 7), { ref: 7, ok: true });
  const frame = { message: { text: "hi" }, channel: "room", user: "alice" };
  assert.deepEqual(await chat.reader.next("the reader's frame"), frame);
  assert.deepEqual(await chat.farReader.next("the far reader's frame"), frame);
  assert.deepEqual(backend.requests, [{
    body: {
      channel: "room",
      payload: { text: "hi" },
      user: "alice",
      token_fingerprint: tokenFingerprint(chat.token),
      node: setup.server.cluster.nodeId,
    },
    isSigned: true,
  }]);
  await assertNothingReceived(chat.alice);
});

hookModes("a token without a user is asked about with user null", async (setup, backend) => {
  const { client } = await member(setup, { publish: ["news"] }, ["news"]);
  await using anonymous = client;
  assert.deepEqual(
    await anonymous.request({ publish: { channel: "news", payload: 1 } }, 1),
    { ref: 1, ok: true },
  );
  assert.equal(backend.requests[0]?.body.user, null);
});

hookModes('{"payload": X} delivers X instead', async (setup, backend) => {
  await using chat = await room(setup);
  backend.answer = ({ body }) =>
    Response.json({ payload: { text: "[redacted]", was: body.payload, id: 42 } });
  assert.deepEqual(await publish(chat.alice, "my password is hunter2", 1), { ref: 1, ok: true });
  const frame = {
    message: { text: "[redacted]", was: "my password is hunter2", id: 42 },
    channel: "room",
    user: "alice",
  };
  assert.deepEqual(await chat.reader.next(), frame);
  assert.deepEqual(await chat.farReader.next(), frame);
});

hookModes("with history, the replacement is what is kept and replayed", async (setup, backend) => {
  await using chat = await room(setup);
  backend.answer = () => Response.json({ payload: "kept" });
  assert.deepEqual(await publish(chat.alice, "sent", 1), { ref: 1, ok: true, offset: 1 });
  const frame = { message: "kept", channel: "room", user: "alice", offset: 1 };
  assert.deepEqual(await chat.reader.next(), frame);
  assert.deepEqual(await chat.farReader.next(), frame);
  await assertNothingReceived(chat.alice);
  const { value } = await readJson(await setup.minter.api("/history/room/"), 200);
  const { epoch, messages } = value as { epoch: string; messages: unknown[] };
  assert.deepEqual(messages, [{ offset: 1, message: "kept", user: "alice" }]);
  const token = (await mint(setup.minter, {})).token as string;
  await using late = await authenticated(setup.server, token);
  const since = { room: { offset: 0, epoch } };
  const joined = await late.request({ channels: { join: ["room"], leave: [], since } }, 2);
  assert.equal((joined as { ok?: boolean }).ok, true, JSON.stringify(joined));
  assert.deepEqual(await late.next("the replay"), { ...frame });
}, () => ({ historySize: 10 }));

hookModes('a 4xx or {"error": reason} rejects, with the reason, and delivers nothing', async (
  setup,
  backend,
) => {
  await using chat = await room(setup);
  const cases: Array<[Response, string]> = [
    [Response.json({ error: "no links, please" }, { status: 403 }), "no links, please"],
    [new Response("too fast", { status: 429 }), "status 429"],
    [new Response(null, { status: 422 }), "status 422"],
    [Response.json({ error: "muted" }), "muted"],
    [Response.json({ error: "muted", payload: "ignored" }), "muted"],
  ];
  for (const [i, [answer, reason]] of cases.entries()) {
    backend.answer = () => answer;
    assert.deepEqual(await publish(chat.alice, "spam", i), {
      ref: i,
      error: `publish: rejected: ${reason}`,
    });
  }
  assert.equal(backend.requests.length, cases.length);
  await assertNothingReceived(chat.reader);
  await assertNothingReceived(chat.farReader);
});

hookModes(
  "no answer in time, a 5xx or an unreadable answer refuses as unavailable, until it answers",
  async (setup, backend) => {
    await using chat = await room(setup);
    const answers = [
      backend.never,
      () => new Response(null, { status: 500 }),
      () => Response.json({ payload: "late" }, { status: 503 }),
      () => new Response("not json"),
      () => Response.json(["not", "an", "object"]),
      () => Response.json({ payload: null }),
      () => Response.json({ error: 5 }),
      () => new Response(null, { status: 204 }),
      () => Response.json({ payload: "x".repeat(300) }),
      // Chunked, so that its length is known only once read.
      () => {
        const body = new TextEncoder().encode(`{"payload": "${"x".repeat(300)}"}`);
        return new Response(ReadableStream.from([body.subarray(0, 100), body.subarray(100)]));
      },
    ];
    for (const [i, answer] of answers.entries()) {
      backend.answer = answer;
      assert.deepEqual(await publish(chat.alice, `#${i}`, i), {
        ref: i,
        error: "publish: backend unavailable",
      }, `answer #${i}`);
    }
    await assertNothingReceived(chat.reader);
    await assertNothingReceived(chat.farReader);
    backend.answer = () => Response.json({});
    assert.deepEqual(await publish(chat.alice, "back", 99), { ref: 99, ok: true });
    assert.deepEqual(await chat.reader.next(), { message: "back", channel: "room", user: "alice" });
  },
  // Answers longer than --max-body-bytes are not read.
  () => ({ publishHookTimeout: 0.2, maxBodyBytes: 256 }),
);

hookModes("an unreachable backend refuses as unavailable", async (setup) => {
  await using chat = await room(setup);
  assert.deepEqual(await publish(chat.alice, "hello?", 1), {
    ref: 1,
    error: "publish: backend unavailable",
  });
  await assertNothingReceived(chat.reader);
  await assertNothingReceived(chat.farReader);
}, () => ({ publishHookUrl: closedPortUrl() }));

hookModes("a backend checks the signature: another secret's is refused", async (setup, backend) => {
  await using chat = await room(setup);
  assert.deepEqual(await publish(chat.alice, "forged?", 1), {
    ref: 1,
    error: "publish: rejected: bad signature",
  });
  assert.equal(backend.requests[0]?.isSigned, false);
  await assertNothingReceived(chat.reader);
}, () => ({ webhookSecret: "not-the-backend's" }));

hookModes("API broadcasts never go through the hook", async (setup, backend) => {
  await using chat = await room(setup);
  backend.answer = () => Response.json({ error: "no" }, { status: 403 });
  for (const server of new Set([setup.server, setup.minter])) {
    const response = await broadcast(server, "room", { payload: "from the API" });
    await response.body?.cancel();
    assert.equal(response.status, 200);
    for (const client of [chat.alice, chat.reader, chat.farReader]) {
      assert.deepEqual(await client.next(), { message: "from the API", channel: "room" });
    }
  }
  assert.deepEqual(backend.requests, []);
});

hookModes(
  "one connection's publications are delivered in the order sent, however long the backend takes",
  async (setup, backend) => {
    await using chat = await room(setup);
    const count = 200;
    // Later publications answered sooner than earlier ones would overtake them if they ran
    // side by side.
    backend.answer = async ({ body }) => {
      const delayMs = (count - Number(body.payload)) % 7;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return Response.json(Number(body.payload) % 2 === 0 ? {} : { payload: body.payload });
    };
    for (let i = 0; i < count; i++) {
      chat.alice.send({ publish: { channel: "room", payload: i }, ref: i });
    }
    const replies = [];
    const received = [];
    const farReceived = [];
    for (let i = 0; i < count; i++) {
      replies.push(await chat.alice.next(`reply ${i}`));
      received.push((await chat.reader.next(`frame ${i}`) as { message: number }).message);
      farReceived.push((await chat.farReader.next(`frame ${i}`) as { message: number }).message);
    }
    const inOrder = Array.from({ length: count }, (_, i) => i);
    assert.deepEqual(replies, inOrder.map((ref) => ({ ref, ok: true })));
    assert.deepEqual(received, inOrder);
    assert.deepEqual(farReceived, inOrder);
    assert.deepEqual(backend.requests.map(({ body }) => body.payload), inOrder);
  },
  () => ({ maxClientMessagesPerSecond: 1_000 }),
);

Deno.test("a shutdown gives up the hook calls in flight instead of waiting for their answers", async () => {
  await using backend = silentBackend();
  await using server = await startTestServer({
    publishHookUrl: backend.url,
    webhookSecret: SECRET,
  });
  const { client } = await member({ minter: server, server }, { publish: ["room"] }, ["room"]);
  await using alice = client;
  alice.send({ publish: { channel: "room", payload: "last words" }, ref: 1 });
  await withTimeout(backend.asked, "the publish hook's request");
  // Far sooner than the 5 s --publish-hook-timeout.
  assert.equal(await server.shutdown(), true);
  await withTimeout(backend.hungUp, "Boreas to hang up on the backend");
});

Deno.test("the publish hook's log lines never show the credentials of its URL", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", stderr: (line) => lines.push(line) });
  const url = closedPortUrl("hook-user:hook-pass@");
  await using server = await startTestServer(
    { publishHookUrl: url, webhookSecret: SECRET },
    { logger },
  );
  const { client } = await member(
    { minter: server, server },
    { publish: ["room"] },
    ["room"],
  );
  await using alice = client;
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await publish(alice, "x", i), {
      ref: i,
      error: "publish: backend unavailable",
    });
  }
  const warnings = lines.filter((line) => line.includes("publish hook unavailable"));
  // Once at warn when it starts failing, then at debug.
  assert.equal(warnings.length, 2, lines.join("\n"));
  assert.match(warnings[0]!, /warn/i);
  assert.ok(warnings[0]!.includes(url.replace("hook-user:hook-pass@", "")), warnings[0]);
  for (const line of lines) {
    assert.ok(!line.includes("hook-user") && !line.includes("hook-pass"), line);
  }
});

hookModes("a publisher blocked while the backend decides: its publication goes nowhere", async (
  setup,
  backend,
) => {
  await using chat = await room(setup);
  let decide = () => {};
  const decided = new Promise<void>((resolve) => decide = resolve);
  backend.answer = async () => {
    await decided;
    return Response.json({});
  };
  chat.alice.send({ publish: { channel: "room", payload: "after the block" }, ref: 1 });
  await backend.untilRequests(1);
  const blocked = await setup.minter.api("/users/alice/block", { method: "PUT" });
  assert.equal(blocked.status, 200);
  await blocked.body?.cancel();
  assert.equal((await withTimeout(chat.alice.closed, "alice to be closed")).code, 4005);
  decide();
  // The backend said yes, but to a publisher that is gone: the readers get nothing.
  await assertNothingReceived(chat.reader);
  await assertNothingReceived(chat.farReader);
});

Deno.test("a redirect from the hook is not followed: it refuses, and nothing is delivered", async () => {
  const asked: string[] = [];
  await using backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      await request.body?.cancel();
      const { pathname } = new URL(request.url);
      asked.push(`${request.method} ${pathname}`);
      return pathname === "/publish"
        ? new Response(null, { status: 307, headers: { location: "/elsewhere" } })
        : Response.json({});
    },
  );
  const publishHookUrl = `http://127.0.0.1:${backend.addr.port}/publish`;
  await using server = await startTestServer({ publishHookUrl, webhookSecret: SECRET });
  await using chat = await room({ minter: server, server });
  assert.deepEqual(await publish(chat.alice, "unchecked", 1), {
    ref: 1,
    error: "publish: backend unavailable",
  });
  assert.deepEqual(asked, ["POST /publish"]);
  await assertNothingReceived(chat.reader);
});

Deno.test("a publisher that outruns a backend that does not answer is closed, not queued", async () => {
  await using backend = startHookBackend(SECRET);
  backend.answer = backend.never;
  const maxClientMessagesPerSecond = 10;
  await using server = await startTestServer({
    publishHookUrl: backend.url,
    webhookSecret: SECRET,
    maxClientMessagesPerSecond,
  });
  await using chat = await room({ minter: server, server });
  chat.alice.send({ publish: { channel: "room", payload: 0 }, ref: 0 });
  await backend.untilRequests(1);
  // Within the rate (one a 100 ms), each frame waits behind the first, which never ends.
  let isClosed = false;
  chat.alice.closed.then(() => isClosed = true);
  for (let ref = 1; ref <= 2 * maxClientMessagesPerSecond && !isClosed; ref++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    chat.alice.send({ publish: { channel: "room", payload: ref }, ref });
  }
  assert.deepEqual(await withTimeout(chat.alice.closed, "the close for too many messages"), {
    code: 1008,
    reason: "too many messages",
  });
  assert.equal(server.metrics.connectionsClosedForLimits, 1);
  assert.equal(backend.requests.length, 1);
  await assertNothingReceived(chat.reader);
});
