/** Stopping a user on real servers, standalone and on two cluster nodes sharing a test Redis:
 * `DELETE /users/{user}/` closes their connections on every node with 4005 and revokes their
 * tokens; `PUT /users/{user}/block` also refuses every token naming them, opaque or JWT, until
 * it is lifted or its ttl runs out; `GET /users/{user}/` shows it all; the client library's calls. */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  BoreasApi,
  BoreasApiError,
  BoreasSubscriberError,
  type SubscriberState,
} from "../client/mod.ts";
import { iterationError, subscriberOf } from "./client_helpers.ts";
import { startNode, until, untilHealthy } from "./cluster_helpers.ts";
import { startTestServer, TestClient, type TestServer, withTimeout } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  closeOf,
  readErrors,
  readJson,
} from "./integration_helpers.ts";
import { startRedis } from "./redis_server.ts";
import { startProxy } from "./tcp_proxy.ts";

const SECRET = "a-long-enough-test-secret-for-hmac-256";
const DISCONNECTED = { code: 4005, reason: "disconnected" };
const BLOCKED = "access_token: user blocked";

/** A JWT granting every channel whose `sub` is `user`. */
function jwtFor(user: string): Promise<string> {
  return new SignJWT({ channels: ["*"] }).setProtectedHeader({ alg: "HS256" }).setSubject(user)
    .setExpirationTime("1h").sign(new TextEncoder().encode(SECRET));
}

/** Mints, through `server`'s API, a token whose grant names `user`. */
async function mintFor(server: TestServer, user: string): Promise<string> {
  const response = await server.api("/token/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  });
  const { value } = await readJson(response, 200);
  return (value as { token: string }).token;
}

/** A client of `server` authenticated with `token` and joined to `room`, kept on `stack`. */
async function connectAs(
  stack: AsyncDisposableStack,
  server: TestServer,
  token: string,
): Promise<TestClient> {
  const client = stack.use(await TestClient.connect(server.wsUrl));
  await authenticateAndJoin(client, token, ["room"]);
  return client;
}

/** What `server` answers a fresh connection authenticating with `token`: `ok`, or the error. */
async function authAnswer(server: TestServer, token: string): Promise<string> {
  await using client = await TestClient.connect(server.wsUrl);
  const reply = await client.request({ access_token: token }) as { ok?: true; error?: string };
  return reply.ok ? "ok" : reply.error!;
}

/** An SSE stream of `server` on the channel `room` under `token`, once it has joined, and the
 * `data:` of the `event: close` it ends with. */
async function openStream(
  server: TestServer,
  token: string,
): Promise<{ closed: Promise<unknown> }> {
  const url = `${server.wsUrl.replace(/^ws:/, "http:")}events?channel=room`;
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  const closed = (async () => {
    let text = "";
    for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const close = /event: close\ndata: (.*)\n/.exec(text);
      if (close !== null) return JSON.parse(close[1]!);
    }
    throw new Error(`the stream ended without a close: ${text}`);
  })();
  return { closed: withTimeout(closed, "the stream's close") };
}

/** `server`'s JSON answer to `method path`, asserting `status`. */
async function call(
  server: TestServer,
  method: string,
  path: string,
  { status = 200, body }: { status?: number; body?: string } = {},
): Promise<unknown> {
  const sent = body === undefined ? {} : { body, headers: { "content-type": "application/json" } };
  const response = await server.api(path, { method, ...sent });
  if (status === 204) {
    assert.equal(response.status, 204, await response.text());
    return null;
  }
  return (await readJson(response, status)).value;
}

/** Two nodes on a test Redis, or one standalone server playing both. */
type Nodes = readonly [a: TestServer, b: TestServer];

async function withStandalone(run: (nodes: Nodes) => Promise<void>): Promise<void> {
  await using server = await startTestServer({ jwtSecret: SECRET });
  await run([server, server]);
}

async function withCluster(run: (nodes: Nodes) => Promise<void>): Promise<void> {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a", { jwtSecret: SECRET });
  await using b = await startNode(redis.url, "b", { jwtSecret: SECRET });
  await run([a, b]);
}

async function disconnectsEverywhere([a, b]: Nodes): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const [aliceA, aliceB, bobToken] = [
    await mintFor(a, "alice"),
    await mintFor(b, "alice"),
    await mintFor(a, "bob"),
  ];
  const alice = [
    await connectAs(stack, a, aliceA),
    await connectAs(stack, b, aliceB),
    await connectAs(stack, b, await jwtFor("alice")),
  ];
  const stream = await openStream(b, aliceA);
  const bob = await connectAs(stack, a, bobToken);
  assert.deepEqual(await call(b, "GET", "/users/alice/"), {
    connections: 4,
    tokens: 2,
    block: null,
  });

  assert.deepEqual(await call(a, "DELETE", "/users/alice/"), { closed: 4, revoked: 2 });
  for (const client of alice) assert.deepEqual(await closeOf(client), DISCONNECTED);
  assert.deepEqual(await stream.closed, DISCONNECTED);
  await assertNothingReceived(bob);
  // The opaque tokens are revoked on every node; the JWT cannot be, and still gets in.
  for (const node of [a, b]) {
    for (const token of [aliceA, aliceB]) {
      assert.equal(await authAnswer(node, token), "access_token: unknown token");
    }
    assert.equal(await authAnswer(node, await jwtFor("alice")), "ok");
  }
  assert.equal(await authAnswer(b, bobToken), "ok");
  await until(async () => {
    const state = await call(a, "GET", "/users/alice/");
    return JSON.stringify(state) === '{"connections":0,"tokens":0,"block":null}';
  }, "alice to have nothing left");
}

async function disconnectsWithoutRevoking([a, b]: Nodes): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const token = await mintFor(a, "carol");
  const carol = await connectAs(stack, b, token);
  assert.deepEqual(await call(a, "DELETE", "/users/carol/?revoke=false"), {
    closed: 1,
    revoked: 0,
  });
  assert.deepEqual(await closeOf(carol), DISCONNECTED);
  assert.equal(await authAnswer(b, token), "ok");
  assert.equal(((await call(a, "GET", `/token/${token}/`)) as { user: string }).user, "carol");
  // Nobody of that name: nothing to close, nothing to revoke.
  assert.deepEqual(await call(b, "DELETE", "/users/nobody/"), { closed: 0, revoked: 0 });
}

async function blocksUntilLifted([a, b]: Nodes): Promise<void> {
  await using stack = new AsyncDisposableStack();
  const token = await mintFor(a, "dave");
  const jwt = await jwtFor("dave");
  const dave = [await connectAs(stack, a, token), await connectAs(stack, b, jwt)];
  const erin = await connectAs(stack, b, await mintFor(b, "erin"));

  assert.deepEqual(await call(b, "PUT", "/users/dave/block"), {
    closed: 2,
    block: { "expires_at": null },
  });
  for (const client of dave) assert.deepEqual(await closeOf(client), DISCONNECTED);
  await assertNothingReceived(erin);
  for (const node of [a, b]) {
    assert.equal(await authAnswer(node, token), BLOCKED);
    assert.equal(await authAnswer(node, jwt), BLOCKED);
  }
  // Re-authenticating as dave is refused too, and leaves the connection as it was.
  assert.deepEqual(await erin.request({ access_token: jwt }, "again"), {
    ref: "again",
    error: BLOCKED,
  });
  await assertNothingReceived(erin);
  // An SSE stream is refused as a WebSocket is.
  const events = await fetch(`${b.wsUrl.replace("ws:", "http:")}events?channel=room`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.deepEqual(await readErrors(events, 401), [BLOCKED]);
  assert.deepEqual(await call(a, "GET", "/users/dave/"), {
    connections: 0,
    tokens: 1,
    block: { "expires_at": null },
  });

  assert.equal(await call(a, "DELETE", "/users/dave/block", { status: 204 }), null);
  assert.deepEqual(await call(b, "DELETE", "/users/dave/block", { status: 404 }), {
    errors: ["user: not blocked"],
  });
  for (const node of [a, b]) {
    assert.equal(await authAnswer(node, token), "ok");
    assert.equal(await authAnswer(node, jwt), "ok");
  }
  assert.deepEqual(await call(b, "GET", "/users/dave/"), {
    connections: 0,
    tokens: 1,
    block: null,
  });
}

async function blockEndsByItself([a, b]: Nodes): Promise<void> {
  const token = await mintFor(a, "frank");
  const before = Date.now() / 1000;
  const blocked = await call(a, "PUT", "/users/frank/block", { body: '{"ttl": 1}' }) as {
    closed: number;
    block: { "expires_at": number };
  };
  const expiresAt = blocked.block.expires_at;
  // At least the ttl, rounded up to a whole second: never over before it began.
  assert.ok(expiresAt >= before + 1 && expiresAt < Date.now() / 1000 + 2, `${expiresAt}`);
  assert.equal(await authAnswer(b, token), BLOCKED);
  // Nobody lifts it: two seconds at most, then frank is let in again.
  await until(async () => await authAnswer(b, token) === "ok", "the block to end", 4_000);
  assert.ok(Date.now() / 1000 >= expiresAt, "let in before the block's end");
  assert.equal(((await call(a, "GET", "/users/frank/")) as { block: unknown }).block, null);
  // A block again replaces the one before: from a ttl to none.
  await call(a, "PUT", "/users/frank/block", { body: '{"ttl": 3600}' });
  assert.deepEqual(await call(b, "PUT", "/users/frank/block", { body: "{}" }), {
    closed: 0,
    block: { "expires_at": null },
  });
  assert.deepEqual(((await call(a, "GET", "/users/frank/")) as { block: unknown }).block, {
    "expires_at": null,
  });
}

const SCENARIOS = {
  "DELETE /users/{user}/ closes the user's connections on every node with 4005, counts them and revokes their tokens":
    disconnectsEverywhere,
  "DELETE /users/{user}/?revoke=false closes the connections and keeps the tokens":
    disconnectsWithoutRevoking,
  "PUT /users/{user}/block closes and refuses opaque tokens and JWTs naming the user until DELETE lifts it":
    blocksUntilLifted,
  "PUT /users/{user}/block with a ttl ends by itself": blockEndsByItself,
};

for (const [name, scenario] of Object.entries(SCENARIOS)) {
  Deno.test(`standalone: ${name}`, () => withStandalone(scenario));
  Deno.test(`cluster: ${name}`, () => withCluster(scenario));
}

Deno.test("cluster: a node that missed a block while its subscription was wedged closes the user's connections when it is back", async () => {
  await using redis = await startRedis();
  await using proxy = startProxy(redis.port);
  await using a = await startNode(`redis://127.0.0.1:${proxy.port}`, "a");
  await using b = await startNode(redis.url, "b");
  await using stack = new AsyncDisposableStack();
  const hana = await connectAs(stack, a, await mintFor(b, "hana"));
  assert.equal(proxy.wedgeSubscribers(), 1);
  assert.deepEqual(await call(b, "PUT", "/users/hana/block"), {
    closed: 1,
    block: { "expires_at": null },
  });
  // Node a never heard it; once its subscription is replaced, it looks the blocks up itself.
  await until(async () => {
    const response = await a.api("/health");
    await response.body?.cancel();
    return response.status === 503;
  }, "node a to notice the wedge");
  await untilHealthy(a);
  assert.deepEqual(await withTimeout(hana.closed, "the replayed close", 5_000), DISCONNECTED);
});

Deno.test("cluster: a blocked user's JWT let in while Redis is down is closed once Redis is back", async () => {
  await using redis = await startRedis({ appendOnly: true });
  await using a = await startNode(redis.url, "a", { jwtSecret: SECRET });
  await call(a, "PUT", "/users/jo/block");
  await redis.kill();
  // A JWT needs no Redis: the block cannot be read, so it is let in for now.
  await using jo = await TestClient.connect(a.wsUrl);
  assert.deepEqual(await jo.request({ access_token: await jwtFor("jo") }), { ref: 1, ok: true });
  await redis.start();
  assert.deepEqual(
    await withTimeout(jo.closed, "the close once Redis is back", 5_000),
    DISCONNECTED,
  );
});

Deno.test("cluster: the set of a user's tokens in Redis loses those revoked and expired", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const index = "boreas:{tokens}:user:ivan";
  const kept = await mintFor(a, "ivan");
  const revoked = await mintFor(a, "ivan");
  await call(a, "POST", "/token/", { body: '{"user": "ivan", "ttl": 1}' });
  assert.equal(await redis.cli("SCARD", index), "3");
  assert.equal(await call(a, "DELETE", `/token/${revoked}/`, { status: 204 }), null);
  assert.equal(await redis.cli("SCARD", index), "2");
  await until(
    async () => {
      await a.tokens.sweepExpired();
      return await redis.cli("SCARD", index) === "1";
    },
    "the expired token to be swept",
    3_000,
  );
  assert.equal(await redis.cli("SMEMBERS", index), kept);
  assert.deepEqual(await call(a, "GET", "/users/ivan/"), {
    connections: 0,
    tokens: 1,
    block: null,
  });
});

Deno.test("the /users/ routes answer 400 naming what is wrong", async () => {
  await using server = await startTestServer();
  const bad = async (method: string, path: string, body?: string) =>
    await readErrors(
      await server.api(path, {
        method,
        ...(body === undefined ? {} : { body, headers: { "content-type": "application/json" } }),
      }),
      400,
    );
  const ttl = "ttl: expected a whole number of seconds above 0";
  for (const body of ['{"ttl": 0}', '{"ttl": 1.5}', '{"ttl": "60"}', '{"ttl": -1}']) {
    assert.deepEqual(await bad("PUT", "/users/alice/block", body), [ttl], body);
  }
  assert.deepEqual(await bad("PUT", "/users/alice/block", '{"ttl": 60, "until": 1}'), [
    "until: unknown field (expected ttl)",
  ]);
  assert.deepEqual(await bad("PUT", "/users/alice/block", "[60]"), [
    "body: expected a JSON object",
  ]);
  assert.deepEqual(await bad("DELETE", "/users/alice/?revoke=no"), [
    'revoke: expected true or false, got "no"',
  ]);
  assert.deepEqual(await bad("GET", `/users/${"u".repeat(129)}/`), [
    "user: expected at most 128 characters, without lone surrogates",
  ]);
  // Nothing was blocked by the bad requests.
  assert.deepEqual(await call(server, "GET", "/users/alice/"), {
    connections: 0,
    tokens: 0,
    block: null,
  });
});

Deno.test("the /users/ routes need the API key when the server has one", async () => {
  await using server = await startTestServer({ apiKey: ["k1"] });
  const routes = [
    ["GET", "/users/alice/"],
    ["DELETE", "/users/alice/"],
    ["PUT", "/users/alice/block"],
    ["DELETE", "/users/alice/block"],
  ] as const;
  for (const [method, path] of routes) {
    const response = await server.api(path, { method });
    assert.equal(response.status, 401, `${method} ${path}`);
    await response.body?.cancel();
  }
  const authorized = await server.api("/users/alice/block", {
    method: "PUT",
    headers: { authorization: "Bearer k1" },
  });
  assert.deepEqual((await readJson(authorized, 200)).value, {
    closed: 0,
    block: { "expires_at": null },
  });
});

Deno.test("a user named in a path is percent-decoded, and GET /users/token/ stays the channel's tokens", async () => {
  await using stack = new AsyncDisposableStack();
  const server = stack.use(await startTestServer());
  const token = await mintFor(server, "ana maría/7");
  const client = await connectAs(stack, server, token);
  assert.deepEqual(await call(server, "DELETE", `/users/${encodeURIComponent("ana maría/7")}/`), {
    closed: 1,
    revoked: 1,
  });
  assert.deepEqual(await closeOf(client), DISCONNECTED);
  assert.deepEqual(await call(server, "GET", "/users/token/"), { tokens: [] });
});

Deno.test("BoreasApi: user(), disconnectUser(), blockUser() and unblockUser()", async () => {
  await using stack = new AsyncDisposableStack();
  const server = stack.use(await startTestServer({ apiKey: ["k1"] }));
  const api = new BoreasApi({ url: server.apiUrl, apiKey: "k1" });
  const response = await server.api("/token/", {
    method: "POST",
    headers: { authorization: "Bearer k1", "content-type": "application/json" },
    body: JSON.stringify({ user: "gina" }),
  });
  const { token } = (await readJson(response, 200)).value as { token: string };
  const first = await connectAs(stack, server, token);
  assert.deepEqual(await api.user("gina"), { connections: 1, tokens: 1, block: null });

  assert.deepEqual(await api.disconnectUser("gina", { revoke: false }), { closed: 1, revoked: 0 });
  assert.deepEqual(await closeOf(first), DISCONNECTED);
  const second = await connectAs(stack, server, token);

  const { block } = await api.blockUser("gina", { ttl: 600 });
  assert.ok(typeof block.expires_at === "number" && block.expires_at > Date.now() / 1000);
  assert.deepEqual(await closeOf(second), DISCONNECTED);
  assert.equal(await authAnswer(server, token), BLOCKED);
  assert.deepEqual((await api.user("gina")).block, block);
  assert.deepEqual(await api.blockUser("gina"), { closed: 0, block: { "expires_at": null } });
  await api.unblockUser("gina");
  await assert.rejects(api.unblockUser("gina"), (error) => {
    assert.ok(error instanceof BoreasApiError);
    assert.equal(error.status, 404);
    assert.deepEqual(error.errors, ["user: not blocked"]);
    return true;
  });
  assert.equal(await authAnswer(server, token), "ok");
  assert.deepEqual(await api.disconnectUser("gina"), { closed: 0, revoked: 1 });
  assert.equal(await authAnswer(server, token), "access_token: unknown token");

  await assert.rejects(api.blockUser("gina", { ttl: 0.5 }), RangeError);
  for (const user of ["", ".", ".."]) await assert.rejects(api.disconnectUser(user), RangeError);
  await assert.rejects(api.user("token"), RangeError);
});

Deno.test("BoreasSubscriber: reconnects after a 4005, and ends with auth-rejected once its user is blocked", async () => {
  await using server = await startTestServer();
  const api = new BoreasApi({ url: server.apiUrl });
  const token = await mintFor(server, "kim");
  const states: SubscriberState[] = [];
  await using subscriber = subscriberOf(server, token, { channels: ["room"], states });
  await subscriber.untilOpen();
  assert.deepEqual(await api.disconnectUser("kim", { revoke: false }), { closed: 1, revoked: 0 });
  await until(() => states.filter((state) => state === "open").length === 2, "a reconnect", 2_000);
  await api.blockUser("kim");
  const error = await iterationError(subscriber);
  assert.ok(error instanceof BoreasSubscriberError, String(error));
  assert.equal(error.kind, "auth-rejected");
  assert.match(error.message, /access_token: user blocked/);
});

Deno.test("PUT /users/{user}/block takes an empty body, whatever its headers, as no ttl", async () => {
  await using server = await startTestServer();
  const url = `${server.apiUrl}/users/lee/block`;
  const variants = [["-X", "PUT", url], ["-X", "PUT", "-d", "", url], [
    "-X",
    "PUT",
    "-H",
    "Content-Type: application/json",
    "--data-binary",
    "@/dev/null",
    url,
  ]];
  for (const args of variants) {
    const output = await new Deno.Command("curl", { args: ["-sS", ...args], stdout: "piped" })
      .output();
    assert.equal(
      new TextDecoder().decode(output.stdout),
      '{"closed": 0, "block": {"expires_at": null}}',
      `curl ${args.join(" ")}`,
    );
  }
  const fetched = await server.api("/users/lee/block", { method: "PUT", body: "" });
  assert.deepEqual((await readJson(fetched, 200)).value, {
    closed: 0,
    block: { "expires_at": null },
  });
});

Deno.test("cluster: a token revoked while its user's block is read does not authenticate", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  await using b = await startNode(redis.url, "b");
  const { token } = await readJson(
    await a.api("/token/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "alice" }),
    }),
    200,
  ).then(({ value }) => value as { token: string });
  let heard = () => {};
  const isHeard = new Promise<void>((resolve) => heard = resolve);
  b.cluster.tokens.onRevoke((revoked) => revoked === token && heard());
  // The block's read answers only after the revocation was announced and heard on b: the
  // order two Redis round trips on different connections may take.
  const users = b.cluster.users;
  const blockOf = users.blockOf.bind(users);
  users.blockOf = async (user: string) => {
    const answer = await blockOf(user);
    const revoked = await a.api(`/token/${token}/`, { method: "DELETE" });
    await revoked.body?.cancel();
    await isHeard;
    return answer;
  };
  await using alice = await TestClient.connect(b.wsUrl);
  assert.deepEqual(await alice.request({ access_token: token }, "auth"), {
    ref: "auth",
    error: "access_token: unknown token",
  });
  assert.deepEqual(b.hub.activeUsers(), []);
});
