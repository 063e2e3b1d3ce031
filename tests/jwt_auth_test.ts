/** JWT access tokens on real servers, standalone and on a cluster node: grants from the
 * `channels` claim, `sub` as the user, `exp` closing the connection, and refused tokens. */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startNode } from "./cluster_helpers.ts";
import { startTestServer, TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { readErrors, readJson } from "./integration_helpers.ts";
import { startRedis } from "./redis_server.ts";

const SECRET = "a-long-enough-test-secret-for-hmac-256";

function jwt(claims: Record<string, unknown>, expiresAt: number | string = "1h"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject("7")
    .setExpirationTime(expiresAt).sign(new TextEncoder().encode(SECRET));
}

async function checkJwtAuth(server: TestServer): Promise<void> {
  const token = await jwt({ channels: ["room:*"] });
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
  assert.deepEqual(await client.request({ channels: { join: ["room:1"], leave: [] } }, 2), {
    ref: 2,
    ok: true,
  });
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }, 3), {
    ref: 3,
    error: "channels.join[0]: not permitted by this token",
  });
  const { value: listed } = await readJson(await server.api("/token/"), 200);
  assert.deepEqual(listed, { tokens: [token] });
  const { value: presence } = await readJson(await server.api("/presence/room:1/"), 200);
  assert.deepEqual(presence, { connections: 1, users: ["7"] });

  await using refused = await TestClient.connect(server.wsUrl);
  const forged = await new SignJWT({ channels: ["*"] }).setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode("not-the-secret-not-the-secret!!"));
  assert.deepEqual(await refused.request({ access_token: forged }), {
    ref: 1,
    error: "access_token: invalid token",
  });
  const expired = await jwt({ channels: ["*"] }, Math.floor(Date.now() / 1000) - 5);
  assert.deepEqual(await refused.request({ access_token: expired }, 2), {
    ref: 2,
    error: "access_token: invalid token",
  });

  // At least a second away, so that it is still valid when it is checked.
  const soon = Math.ceil(Date.now() / 1000) + 1;
  await using expiring = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await expiring.request({ access_token: await jwt({ channels: [] }, soon) }), {
    ref: 1,
    ok: true,
  });
  assert.deepEqual(await withTimeout(expiring.closed, "the exp close", 3_000), {
    code: 4004,
    reason: "token expired",
  });
  assert.ok(Date.now() - soon * 1000 < 1000);
}

Deno.test("standalone: JWT access tokens grant what their claims say", async () => {
  await using server = await startTestServer({ jwtSecret: SECRET });
  await checkJwtAuth(server);
});

Deno.test("cluster: JWT access tokens grant what their claims say", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", { jwtSecret: SECRET });
  await checkJwtAuth(node);
});

Deno.test("cluster: a JWT authenticates while Redis is down: it needs no Redis", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", { jwtSecret: SECRET });
  await redis.kill();
  await using client = await TestClient.connect(node.wsUrl);
  assert.deepEqual(await client.request({ access_token: await jwt({ channels: ["*"] }) }), {
    ref: 1,
    ok: true,
  });
});

Deno.test("cluster: an SSE stream whose history cannot be read while Redis is down is refused, not opened without it", async () => {
  await using redis = await startRedis();
  await using node = await startNode(redis.url, "a", { jwtSecret: SECRET, historySize: 10 });
  await redis.kill();
  const url = `${node.wsUrl.replace(/^ws/, "http")}events?channel=room`;
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${await jwt({ channels: ["*"] })}` },
  });
  // Clients learn only that Redis is unavailable, never its address.
  assert.deepEqual(await readErrors(response, 503), [
    "channel: cannot be joined now (redis: unavailable)",
  ]);
  assert.equal(node.hub.connectionCount, 0, "the stream was undone");
});
