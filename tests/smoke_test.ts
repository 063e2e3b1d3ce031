import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";

Deno.test("POST /broadcast/:channel/ reaches a subscriber of that channel", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  client.send({ access_token: await server.mintToken() });
  client.send({ channels: { join: ["news"], leave: [] } });
  await server.untilMembers("news", 1);
  const res = await server.api("/broadcast/news/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ dryrun: false, payload: { n: 1 } }),
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '{"recipients": 1}');
  assert.deepEqual(await client.next(), { message: { n: 1 }, channel: "news" });
});

Deno.test("shutdown closes clients with 1001", async () => {
  const server = await startTestServer();
  const client = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  await server.shutdown();
  assert.deepEqual(await client.closed, { code: 1001, reason: "server shutting down" });
});
