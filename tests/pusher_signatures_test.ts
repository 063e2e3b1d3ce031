import assert from "node:assert/strict";
import Pusher from "pusher";
import {
  channelAuth,
  checkRequestSignature,
  isValidChannelAuth,
  isValidUserAuth,
  type SignedRequest,
  webhookSignature,
} from "../src/auth/pusher_signatures.ts";

const APP = { id: "1001", key: "app-key", secret: "app-secret" };
const OTHER = { key: "app-key", secret: "another-secret" };
const SOCKET = "1234.5678";

function sdk(port = 1): Pusher {
  return new Pusher({
    appId: APP.id,
    key: APP.key,
    secret: APP.secret,
    host: "127.0.0.1",
    port: String(port),
  });
}

Deno.test("the SDK's authorizeChannel is accepted for private channels; tampering is refused", () => {
  const { auth } = sdk().authorizeChannel(SOCKET, "private-orders");
  assert.equal(auth, channelAuth(APP, SOCKET, { channel: "private-orders" }));
  assert.ok(isValidChannelAuth(APP, SOCKET, { channel: "private-orders", auth }));
  assert.ok(!isValidChannelAuth(APP, "1234.5679", { channel: "private-orders", auth }));
  assert.ok(!isValidChannelAuth(APP, SOCKET, { channel: "private-order", auth }));
  assert.ok(!isValidChannelAuth(OTHER, SOCKET, { channel: "private-orders", auth }));
  assert.ok(
    !isValidChannelAuth(APP, SOCKET, {
      channel: "private-orders",
      auth: `other-key:${auth.split(":")[1]}`,
    }),
  );
  assert.ok(
    !isValidChannelAuth(APP, SOCKET, { channel: "private-orders", auth: auth.slice(0, -1) }),
  );
  assert.ok(!isValidChannelAuth(APP, SOCKET, { channel: "private-orders", auth: "" }));
});

Deno.test("the SDK's presence authorization covers channel_data exactly as sent", () => {
  const member = { "user_id": "42", "user_info": { name: "Ada" } };
  const { auth, channel_data } = sdk().authorizeChannel(SOCKET, "presence-room", member);
  assert.ok(channel_data !== undefined);
  assert.ok(
    isValidChannelAuth(APP, SOCKET, { channel: "presence-room", auth, channelData: channel_data }),
  );
  assert.ok(!isValidChannelAuth(APP, SOCKET, { channel: "presence-room", auth }));
  const forged = channel_data.replace("42", "43");
  assert.ok(
    !isValidChannelAuth(APP, SOCKET, { channel: "presence-room", auth, channelData: forged }),
  );
});

Deno.test("the SDK's authenticateUser is accepted for pusher:signin; tampering is refused", () => {
  const { auth, user_data } = sdk().authenticateUser(SOCKET, { id: "u-1", name: "Ada" });
  assert.ok(isValidUserAuth(APP, SOCKET, { userData: user_data, auth }));
  assert.ok(!isValidUserAuth(APP, "9.9", { userData: user_data, auth }));
  assert.ok(!isValidUserAuth(APP, SOCKET, { userData: user_data.replace("u-1", "u-2"), auth }));
  assert.ok(!isValidUserAuth(OTHER, SOCKET, { userData: user_data, auth }));
});

Deno.test("the SDK's webhook check accepts our signature, and not a tampered body", () => {
  const body = JSON.stringify({
    time_ms: 1700000000000,
    events: [{ name: "channel_occupied", channel: "c" }],
  });
  const headers = {
    "content-type": "application/json",
    "x-pusher-key": APP.key,
    "x-pusher-signature": webhookSignature(APP, body),
  };
  assert.equal(sdk().webhook({ headers, rawBody: body }).isValid(), true);
  assert.equal(sdk().webhook({ headers, rawBody: body.replace('"c"', '"d"') }).isValid(), false);
});

/** Runs `call` with an SDK pointed at a server that records each request it gets. */
async function captured(call: (pusher: Pusher) => Promise<unknown>): Promise<SignedRequest> {
  let seen: SignedRequest | undefined;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      seen = {
        method: request.method,
        path: url.pathname,
        query: url.searchParams,
        body: await request.text(),
      };
      return Response.json({});
    },
  );
  await call(sdk(server.addr.port));
  assert.ok(seen !== undefined);
  return seen;
}

Deno.test("the SDK's signed trigger (POST with a body) is accepted, at any time within 600 s", async () => {
  const request = await captured((pusher) =>
    pusher.trigger(["orders", "private-orders"], "placed", { total: "12.50" }, {
      socket_id: SOCKET,
    })
  );
  assert.equal(request.method, "POST");
  assert.equal(request.path, "/apps/1001/events");
  const at = Number(request.query.get("auth_timestamp")) * 1000;
  assert.deepEqual(checkRequestSignature(APP, request, { nowMs: at }), { ok: true });
  assert.deepEqual(checkRequestSignature(APP, request, { nowMs: at + 600_000 }), { ok: true });
  assert.deepEqual(checkRequestSignature(APP, request, { nowMs: at - 600_000 }), { ok: true });
  assert.deepEqual(checkRequestSignature(APP, request, { nowMs: at + 601_000 }), {
    ok: false,
    error: "auth_timestamp: expected within 600 s of the server's clock",
  });
});

Deno.test("the SDK's signed GET with parameters is accepted", async () => {
  const request = await captured((pusher) =>
    pusher.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } })
  );
  assert.equal(request.method, "GET");
  assert.equal(request.body, "");
  const nowMs = Number(request.query.get("auth_timestamp")) * 1000;
  assert.deepEqual(checkRequestSignature(APP, request, { nowMs }), { ok: true });
});

Deno.test("a tampered request is refused, naming what is wrong", async () => {
  const request = await captured((pusher) => pusher.trigger("orders", "placed", "12.50"));
  const nowMs = Number(request.query.get("auth_timestamp")) * 1000;
  const withQuery = (change: (query: URLSearchParams) => void): SignedRequest => {
    const query = new URLSearchParams(request.query);
    change(query);
    return { ...request, query };
  };
  const cases: Array<[SignedRequest, string]> = [
    [
      { ...request, body: request.body.replace("orders", "others") },
      "body_md5: expected the MD5 of the body",
    ],
    [{ ...request, path: "/apps/1002/events" }, "auth_signature: does not match the request"],
    [{ ...request, method: "PUT" }, "auth_signature: does not match the request"],
    [withQuery((q) => q.set("extra", "1")), "auth_signature: does not match the request"],
    [
      withQuery((q) => q.set("auth_signature", "0".repeat(64))),
      "auth_signature: does not match the request",
    ],
    [withQuery((q) => q.delete("auth_signature")), "auth_signature: expected in the query"],
    [withQuery((q) => q.delete("auth_timestamp")), "auth_timestamp: expected in the query"],
    [
      withQuery((q) => q.set("auth_timestamp", "soon")),
      "auth_timestamp: expected within 600 s of the server's clock",
    ],
    [withQuery((q) => q.set("auth_key", "other-key")), "auth_key: unknown key"],
    [withQuery((q) => q.set("auth_version", "2.0")), "auth_version: expected 1.0"],
    [withQuery((q) => q.delete("body_md5")), "body_md5: expected the MD5 of the body"],
    [withQuery((q) => q.append("auth_key", APP.key)), "auth_key: expected once in the query"],
  ];
  for (const [tampered, error] of cases) {
    assert.deepEqual(checkRequestSignature(APP, tampered, { nowMs }), { ok: false, error });
  }
  assert.deepEqual(checkRequestSignature(OTHER, request, { nowMs }), {
    ok: false,
    error: "auth_signature: does not match the request",
  });
});
