/** CORS on the API (`--cors-origin`) and origin checks on the WebSocket (`--allowed-origins`),
 * on a real server, with the headers a browser sends. */

import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import { readErrors } from "./integration_helpers.ts";

const APP = "https://app.test";

Deno.test("without --cors-origin no CORS header is sent and a preflight gets 405", async () => {
  await using server = await startTestServer();
  const response = await server.api("/stats", { headers: { origin: APP } });
  await response.body?.cancel();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  const preflight = await server.api("/broadcast/news/", {
    method: "OPTIONS",
    headers: { origin: APP, "access-control-request-method": "POST" },
  });
  await preflight.body?.cancel();
  assert.equal(preflight.status, 405);
});

Deno.test("--cors-origin answers listed origins with CORS headers and preflights", async () => {
  await using server = await startTestServer({ corsOrigin: [APP], apiKey: ["k"] });
  const preflight = await server.api("/broadcast/news/", {
    method: "OPTIONS",
    headers: {
      origin: APP,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  await preflight.body?.cancel();
  assert.equal(preflight.status, 204, "a preflight needs no API key");
  assert.equal(preflight.headers.get("access-control-allow-origin"), APP);
  assert.equal(preflight.headers.get("access-control-allow-methods"), "POST");
  assert.equal(
    preflight.headers.get("access-control-allow-headers"),
    "Authorization, Content-Type",
  );
  assert.equal(preflight.headers.get("access-control-max-age"), "600");
  assert.match(preflight.headers.get("vary") ?? "", /Origin/);
  const tokens = await server.api("/token/", {
    method: "OPTIONS",
    headers: { origin: APP, "access-control-request-method": "GET" },
  });
  await tokens.body?.cancel();
  assert.equal(tokens.headers.get("access-control-allow-methods"), "POST, GET, HEAD");

  const withKey = await server.api("/stats", {
    headers: { origin: APP, authorization: "Bearer k" },
  });
  await withKey.body?.cancel();
  assert.equal(withKey.status, 200);
  assert.equal(withKey.headers.get("access-control-allow-origin"), APP);
  // The key rules are unchanged, and the page can read why.
  const without = await server.api("/stats", { headers: { origin: APP } });
  assert.equal((await readErrors(without, 401)).length, 1);
  assert.equal(without.headers.get("access-control-allow-origin"), APP);

  const other = await server.api("/stats", {
    headers: { origin: "https://evil.test", authorization: "Bearer k" },
  });
  await other.body?.cancel();
  assert.equal(other.status, 200, "answered as usual: browsers enforce CORS");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

Deno.test("--cors-origin '*' allows every origin, without Vary", async () => {
  await using server = await startTestServer({ corsOrigin: ["*"] });
  const response = await server.api("/health", { headers: { origin: "https://any.test" } });
  await response.body?.cancel();
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  assert.equal(response.headers.get("vary"), null);
});

Deno.test("--allowed-origins refuses an upgrade from another origin with 403", async () => {
  await using server = await startTestServer({ allowedOrigins: [APP] });
  const http = server.wsUrl.replace(/^ws/, "http");
  const refused = await fetch(http, { headers: { origin: "https://evil.test" } });
  assert.deepEqual(await readErrors(refused, 403), [
    'origin: "https://evil.test" is not allowed (see --allowed-origins)',
  ]);
  const listed = await fetch(http, { headers: { origin: APP } });
  await listed.body?.cancel();
  assert.equal(listed.status, 426, "past the origin check: not an upgrade");
  // Not a browser: no Origin header, always allowed.
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ channels: { join: [], leave: [] } }), {
    ref: 1,
    error: "channels: authenticate first",
  });
  assert.equal(server.metrics.connectionsRefused, 1);
});
