import assert from "node:assert/strict";
import { ApiKeyCheck } from "../src/api/api_key.ts";
import { HttpError } from "../src/api/response.ts";
import { startTestServer, TestClient } from "./helpers.ts";

function requestWith(authorization?: string): Request {
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  return new Request("http://boreas.test/token/", { method: "POST", headers });
}

/** The error `verify` throws for `authorization`; fails when it passes. */
function refusal(check: ApiKeyCheck, authorization?: string): HttpError {
  try {
    check.verify(requestWith(authorization));
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    return error;
  }
  assert.fail(`${JSON.stringify(authorization)} was accepted`);
}

Deno.test("ApiKeyCheck.verify() lets every request through without keys", () => {
  const check = new ApiKeyCheck([]);
  check.verify(requestWith());
  check.verify(requestWith("Bearer anything"));
});

Deno.test("ApiKeyCheck.verify() accepts any configured key, so keys can rotate", () => {
  const check = new ApiKeyCheck(["old-key", "new-key"]);
  for (const header of ["Bearer old-key", "Bearer new-key", "bearer new-key", "Bearer  old-key "]) {
    check.verify(requestWith(header));
  }
});

Deno.test("ApiKeyCheck.verify() answers a missing header 401 with a Bearer challenge", () => {
  const error = refusal(new ApiKeyCheck(["k1"]));
  assert.equal(error.status, 401);
  assert.equal(error.headers["www-authenticate"], "Bearer");
  assert.match(error.message, /^authorization: /);
});

Deno.test("ApiKeyCheck.verify() answers a wrong or malformed key 401 invalid_token", () => {
  const check = new ApiKeyCheck(["k1", "k2"]);
  for (
    const header of [
      "Bearer k3",
      "Bearer k",
      "Bearer k1x",
      "Bearer K1",
      "Basic k1",
      "k1",
      "Bearer k1 k2",
      "Bearer ",
    ]
  ) {
    const error = refusal(check, header);
    assert.equal(error.status, 401, header);
    assert.ok(error.headers["www-authenticate"]?.startsWith("Bearer"), header);
  }
  assert.equal(
    refusal(check, "Bearer k3").headers["www-authenticate"],
    'Bearer error="invalid_token"',
  );
});

const PROTECTED: ReadonlyArray<[string, string]> = [
  ["POST", "/token/"],
  ["GET", "/token/"],
  ["DELETE", "/token/some-token/"],
  ["GET", "/news/token/"],
  ["POST", "/broadcast/news/"],
  ["POST", "/broadcast/"],
  ["GET", "/stats"],
  ["GET", "/metrics"],
  ["GET", "/debug/token-dump"],
  ["GET", "/debug/recipient-dump"],
  // Unknown paths and methods too: without a key the API cannot be mapped.
  ["GET", "/no-such-path"],
  ["PUT", "/stats"],
  ["DELETE", "/health"],
];

/** Asserts `response` is a 401 with a Bearer challenge and an `{"errors": [...]}` body. */
async function assertUnauthorized(response: Response, what: string): Promise<void> {
  const body = await response.json();
  assert.equal(response.status, 401, what);
  assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/, what);
  assert.deepEqual(Object.keys(body), ["errors"], what);
  assert.equal(body.errors.length, 1, what);
  assert.equal(typeof body.errors[0], "string", what);
}

Deno.test("--api-key refuses every API route but GET /health without a key", async () => {
  await using server = await startTestServer({ apiKey: ["k1", "k2"] });
  for (const [method, path] of PROTECTED) {
    const body = method === "POST" ? JSON.stringify({ payload: 1 }) : null;
    await assertUnauthorized(await server.api(path, { method, body }), `${method} ${path}`);
  }
  // Nothing got through: no broadcast was counted, no token minted.
  assert.equal(server.metrics.messagesPublished, 0);
  assert.equal(await server.tokens.count(), 0);
  const health = await server.api("/health");
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
});

Deno.test("--api-key refuses a wrong key with 401 invalid_token", async () => {
  await using server = await startTestServer({ apiKey: ["k1", "k2"] });
  const init = { method: "POST", headers: { authorization: "Bearer k3" } };
  const response = await server.api("/token/", init);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer error="invalid_token"');
  await assertUnauthorized(response, "POST /token/ with a wrong key");
  assert.equal(await server.tokens.count(), 0);
});

Deno.test("--api-key accepts each configured key on every route", async () => {
  await using server = await startTestServer({ apiKey: ["k1", "k2"] });
  for (const key of ["k1", "k2"]) {
    const headers = { authorization: `Bearer ${key}` };
    const minted = await server.api("/token/", { method: "POST", headers });
    assert.equal(minted.status, 200, key);
    const { token } = await minted.json() as { token: string };
    const stats = await server.api("/stats", { headers });
    assert.equal(stats.status, 200, key);
    await stats.body?.cancel();
    // With a key, an unknown path is told apart again.
    const unknown = await server.api("/no-such-path", { headers });
    assert.equal(unknown.status, 404, key);
    await unknown.body?.cancel();
    // Subscribers need a token, not the API key.
    await using client = await TestClient.connect(server.wsUrl);
    assert.deepEqual(await client.request({ access_token: token }, key), { ref: key, ok: true });
  }
  assert.equal(await server.tokens.count(), 2);
});
