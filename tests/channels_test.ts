/** `GET /channels/?limit=N` (the busiest channels) and `GET /nodes/` on a standalone server. */

import assert from "node:assert/strict";
import { createApi } from "../src/api/mod.ts";
import { apiContext, startTestServer, TestClient } from "./helpers.ts";

Deno.test("GET /channels/ lists the busiest channels first, then by name, up to the limit", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  const joins = [["quiet"], ["busy", "b-tie"], ["busy", "a-tie"], ["busy"]];
  const clients: TestClient[] = [];
  try {
    for (const channels of joins) {
      const client = await TestClient.connect(server.wsUrl);
      clients.push(client);
      assert.deepEqual(await client.request({ access_token: token }), { ref: 1, ok: true });
      assert.deepEqual(await client.request({ channels: { join: channels, leave: [] } }, 2), {
        ref: 2,
        ok: true,
      });
    }
    const list = async (query: string) => await (await server.api(`/channels/${query}`)).json();
    assert.deepEqual(await list(""), {
      channels: [
        { name: "busy", subscribers: 3 },
        { name: "a-tie", subscribers: 1 },
        { name: "b-tie", subscribers: 1 },
        { name: "quiet", subscribers: 1 },
      ],
    });
    assert.deepEqual(await list("?limit=2"), {
      channels: [{ name: "busy", subscribers: 3 }, { name: "a-tie", subscribers: 1 }],
    });
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
  await server.untilConnections(0);
  assert.deepEqual(await (await server.api("/channels")).json(), { channels: [] });
});

Deno.test("GET /channels/ refuses a limit that is not a whole number from 1 to 1000", async () => {
  const api = createApi(apiContext());
  for (const limit of ["0", "1001", "-1", "ten", "1.5", ""]) {
    const response = await api(new Request(`http://boreas.test/channels/?limit=${limit}`));
    assert.equal(response.status, 400, limit);
    assert.deepEqual(await response.json(), {
      errors: [`limit: expected a whole number from 1 to 1000, got ${JSON.stringify(limit)}`],
    });
  }
});

Deno.test("GET /channels/ and GET /nodes/ need the API key when one is set", async () => {
  const api = createApi(apiContext({ apiKeys: ["k1"] }));
  for (const path of ["/channels/", "/nodes/"]) {
    const refused = await api(new Request(`http://boreas.test${path}`));
    assert.equal(refused.status, 401, path);
    await refused.body?.cancel();
    const answered = await api(
      new Request(`http://boreas.test${path}`, { headers: { authorization: "Bearer k1" } }),
    );
    assert.equal(answered.status, 200, path);
    await answered.body?.cancel();
  }
});

Deno.test("GET /nodes/ on a standalone server is its own one row", async () => {
  const context = apiContext();
  const response = await createApi(context)(new Request("http://boreas.test/nodes/"));
  assert.equal(response.status, 200);
  const { nodes } = await response.json();
  assert.deepEqual(nodes.map(({ id }: { id: string }) => id), [context.cluster.nodeId]);
});
