import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import { mediaType, readJson } from "./integration_helpers.ts";

// Replays the original's quickstart (seed/boreas-quickstart.rst) step by step, byte for byte
// where the document shows bytes. The document shows `anonymous: 0` with a client connected;
// the count is of open anonymous connections, so it is 1 here.
Deno.test("the original quick start works as documented, step by step", async () => {
  await using server = await startTestServer();

  // Token creation: `curl -X POST http://localhost:8001/token/`, twice.
  const mint = async () => {
    const { text } = await readJson(await server.api("/token/", { method: "POST" }), 200);
    const match = /^\{"token": "([A-Za-z0-9]{128}-\d+)"\}$/.exec(text);
    assert.ok(match, `POST /token/ answered ${text}`);
    return match[1]!;
  };
  const first = await mint();
  const second = await mint();
  assert.notEqual(first, second);

  const dump = async (path: string) => {
    const response = await server.api(path);
    const text = await response.text();
    assert.equal(response.status, 200);
    assert.equal(mediaType(response), "text/plain");
    return text;
  };
  assert.equal(await dump("/debug/token-dump"), `${first}\n${second}\n`);

  // Subscriber authentication: connect, anonymous.
  await using client = await TestClient.connect(server.wsUrl);
  await server.untilConnections(1);
  assert.equal(
    await dump("/debug/recipient-dump"),
    "RECEIVER POOL REPORT\nanonymous: 1\nauthenticated:\n\t---\nchannels:\n \t---\n",
  );

  client.send(`{"access_token": "${first}"}`);
  await server.untilAuthenticated(first, 1);
  assert.equal(
    await dump("/debug/recipient-dump"),
    `RECEIVER POOL REPORT\nanonymous: 0\nauthenticated:\n\t - ${first}: 1\nchannels:\n \t---\n`,
  );

  // Subscribing to channels.
  client.send('{"channels": {"join": ["ch1", "ch2"], "leave": []}}');
  await server.untilMembers("ch1", 1);
  await server.untilMembers("ch2", 1);
  assert.equal(
    await dump("/debug/recipient-dump"),
    "RECEIVER POOL REPORT\nanonymous: 0\nauthenticated:\n" +
      `\t - ${first}: 1\n` +
      "channels:\n\t - ch1: 1\n\t - ch2: 1\n",
  );

  // Publishing: the curl command of the document.
  const response = await server.api("/broadcast/ch1/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '{"dryrun": false, "payload": {}}',
  });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await client.next("the broadcast on ch1"), { message: {}, channel: "ch1" });
  // No reply came to either message, as the document says: the broadcast was the first frame.
  assert.equal(client.pending.length, 0);
});
