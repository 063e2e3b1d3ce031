import assert from "node:assert/strict";
import { startTestServer, TestClient } from "./helpers.ts";
import {
  assertNothingReceived,
  authenticateAndJoin,
  broadcast,
  readErrors,
  readJson,
  readTokenList,
} from "./integration_helpers.ts";

Deno.test("POST /broadcast/:channel/ answers 415 for a body that is not application/json", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  const body = JSON.stringify({ payload: 1 });
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]) {
    await readErrors(await broadcast(server, "news", body, { "content-type": type }), 415);
  }
  // Without any Content-Type: fetch gives a byte body none.
  const untyped = new Request(`${server.apiUrl}/broadcast/news/`, {
    method: "POST",
    body: new TextEncoder().encode(body),
  });
  assert.equal(untyped.headers.get("content-type"), null);
  await readErrors(await fetch(untyped), 415);
  await assertNothingReceived(client);
});

Deno.test("POST /broadcast/:channel/ accepts application/json with parameters", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  const response = await broadcast(server, "news", { payload: "hi" }, {
    "content-type": "Application/JSON; charset=utf-8",
  });
  assert.equal((await readJson(response, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await client.next(), { message: "hi", channel: "news" });
});

Deno.test("POST /broadcast/:channel/ answers 400 for an invalid body and sends nothing", async (t) => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  const cases: Array<[what: string, body: string | Uint8Array<ArrayBuffer>]> = [
    ["not JSON", "{payload: 1}"],
    ["truncated JSON", '{"payload": 1'],
    ["an empty body", ""],
    ["not UTF-8", new Uint8Array([0x22, 0xff, 0x22])],
    ["a list", '[{"payload": 1}]'],
    ["a string", '"payload"'],
    ["a number", "1"],
    ["null", "null"],
    ["no payload", '{"dryrun": false}'],
    ["a null payload", '{"payload": null}'],
    ["a string dryrun", '{"payload": 1, "dryrun": "false"}'],
    ["a numeric dryrun", '{"payload": 1, "dryrun": 0}'],
    ["a null dryrun", '{"payload": 1, "dryrun": null}'],
  ];
  for (const [what, body] of cases) {
    await t.step(what, async () => {
      const response = await server.api("/broadcast/news/", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await readErrors(response, 400);
    });
  }
  await assertNothingReceived(client);
});

Deno.test("POST /broadcast/:channel/ answers 413 for a body over maxBodyBytes", async () => {
  await using server = await startTestServer({ maxBodyBytes: 100 });
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  const bodyOf = (size: number) => {
    const frame = '{"payload": ""}';
    return `{"payload": "${"x".repeat(size - frame.length)}"}`;
  };
  assert.equal(bodyOf(101).length, 101);
  await readErrors(await broadcast(server, "news", bodyOf(101)), 413);
  await readErrors(await broadcast(server, "news", bodyOf(10_000)), 413);
  // A streamed body has no Content-Length: the limit holds while reading.
  const bytes = new TextEncoder().encode(bodyOf(200));
  const streamed = await server.api("/broadcast/news/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: new ReadableStream({
      start(controller) {
        controller.enqueue(bytes.subarray(0, 60));
        controller.enqueue(bytes.subarray(60));
        controller.close();
      },
    }),
  });
  await readErrors(streamed, 413);
  await assertNothingReceived(client);

  // Exactly the limit is accepted.
  const atLimit = await broadcast(server, "news", bodyOf(100));
  assert.equal((await readJson(atLimit, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await client.next(), { message: "x".repeat(85), channel: "news" });
});

Deno.test("a channel name with control characters answers 400", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, await server.mintToken(), ["news"]);
  for (const name of ["%00", "news%00", "a%0Ab", "%7F", "%C2%85"]) {
    await readErrors(await broadcast(server, name, { payload: 1 }), 400);
    await readErrors(await server.api(`/${name}/token/`), 400);
  }
  await assertNothingReceived(client);
});

Deno.test("a channel name over 255 UTF-8 bytes answers 400", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  const longest = "a".repeat(255);
  await authenticateAndJoin(client, token, [longest]);

  const ok = await broadcast(server, longest, { payload: 1 });
  assert.equal((await readJson(ok, 200)).text, '{"recipients": 1}');
  assert.deepEqual(await client.next(), { message: 1, channel: longest });
  assert.deepEqual(await readTokenList(await server.api(`/${longest}/token/`)), [token]);

  // 256 bytes: as ASCII, and as 128 two-byte characters (only 128 UTF-16 code units).
  for (const name of ["a".repeat(256), "%C3%A9".repeat(128)]) {
    await readErrors(await broadcast(server, name, { payload: 1 }), 400);
    await readErrors(await server.api(`/${name}/token/`), 400);
  }
});

Deno.test("malformed percent-encoding in a path answers 400", async () => {
  await using server = await startTestServer();
  for (const name of ["%ZZ", "a%", "%C3", "%E2%82"]) {
    await readErrors(await broadcast(server, name, { payload: 1 }), 400);
    await readErrors(await server.api(`/${name}/token/`), 400);
  }
  await readErrors(await server.api("/token/%ZZ/", { method: "DELETE" }), 400);
});
