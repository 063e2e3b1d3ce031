/**
 * @module
 * Abuse against the live HTTP API: malformed, oversized, cut-short and garbage requests. Each
 * is answered 4xx or dropped, and the server keeps serving.
 */

import assert from "node:assert/strict";
import { startTestServer, withTimeout } from "./helpers.ts";
import { assertStillServing, MIB, subscriber, UTF8 } from "./abuse_helpers.ts";

// ---- (b) malformed HTTP ---------------------------------------------------------------------

/** Asserts `response` is `{"errors": [...]}` JSON with `status`; returns the messages. */
async function readErrors(response: Response, status: number): Promise<string[]> {
  const text = await response.text();
  assert.equal(response.status, status, `status of an answer with body ${text}`);
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["errors"]);
  assert.ok(body.errors.length > 0 && body.errors.every((e: unknown) => typeof e === "string"));
  return body.errors;
}

Deno.test("malformed API requests are answered 4xx and broadcast nothing", async (t) => {
  await using server = await startTestServer({ maxBodyBytes: 1024 });
  await using listener = await subscriber(server, await server.mintToken(), ["news"]);
  const post = (path: string, body: BodyInit, type: string | null = "application/json") =>
    server.api(path, {
      method: "POST",
      body,
      headers: type === null ? {} : { "content-type": type },
    });

  await t.step("413 for a body over the limit, declared or streamed", async () => {
    const oversized = `{"payload": "${"x".repeat(1024)}"}`;
    for (const body of [oversized, new Uint8Array(5 * MIB).fill(0x20)]) {
      assert.deepEqual(await readErrors(await post("/broadcast/news/", body), 413), [
        "body: expected at most 1024 bytes",
      ]);
    }
    const streamed = ReadableStream.from([
      UTF8.encode(oversized.slice(0, 600)),
      UTF8.encode(oversized.slice(600)),
    ]);
    assert.deepEqual(await readErrors(await post("/broadcast/news/", streamed), 413), [
      "body: expected at most 1024 bytes",
    ]);
  });

  await t.step("400 for malformed percent-encoding", async () => {
    await readErrors(await post("/broadcast/%E0%A4/", '{"payload": 1}'), 400);
    await readErrors(await post("/broadcast/%ED%A0%80/", '{"payload": 1}'), 400);
    await readErrors(await server.api("/token/%ZZ", { method: "DELETE" }), 400);
    await readErrors(await server.api("/%C0%AF/token/"), 400);
  });

  await t.step("405 with Allow for a method the path does not take", async () => {
    const cases = [
      ["GET", "/broadcast/news/", "POST"],
      ["PUT", "/token/", "POST, GET, HEAD"],
      ["PATCH", "/token/abc", "GET, HEAD, DELETE"],
      ["DELETE", "/health", "GET, HEAD"],
      ["POST", "/debug/recipient-dump", "GET, HEAD"],
      ["OPTIONS", "/stats", "GET, HEAD"],
    ] as const;
    for (const [method, path, allow] of cases) {
      const response = await server.api(path, { method });
      await readErrors(response, 405);
      assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
    }
  });

  await t.step("415 for a body that is not application/json", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]) {
      await readErrors(await post("/broadcast/news/", '{"payload": 1}', type), 415);
    }
    await readErrors(await post("/broadcast/news/", UTF8.encode('{"payload": 1}'), null), 415);
  });

  await t.step("400 for a body that is not UTF-8 JSON", async () => {
    for (const body of ["", "{", '{"payload": 1', "payload=1", "null", '{"payload": null}']) {
      await readErrors(await post("/broadcast/news/", body), 400);
    }
    await readErrors(await post("/broadcast/news/", Uint8Array.from([0x22, 0xff, 0x22])), 400);
  });

  await t.step("none of them reached the subscriber", async () => {
    await assertStillServing(server, [listener]);
  });
});

/** Writes `bytes` to `port` on loopback, then reads what the server answers until it closes
 * the connection. */
async function rawHttp(
  port: number,
  bytes: Uint8Array,
  { isHalfClosed = false } = {},
): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  // The server may answer and close before reading everything: a failed write is fine.
  await conn.write(bytes).catch(() => 0);
  if (isHalfClosed) await conn.closeWrite().catch(() => {});
  const received: number[] = [];
  const buffer = new Uint8Array(16_384);
  const readAll = async () => {
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        received.push(...buffer.subarray(0, n));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    }
  };
  await withTimeout(readAll(), `the server to answer and close on port ${port}`);
  return new TextDecoder().decode(Uint8Array.from(received));
}

const GARBAGE_REQUESTS: Record<string, Uint8Array> = {
  "random bytes": Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256),
  "a line of garbage": UTF8.encode("GARBAGE\r\n\r\n"),
  "a TLS client hello": Uint8Array.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1]),
  "an unknown HTTP version": UTF8.encode("GET /health HTTP/9.9\r\nHost: localhost\r\n\r\n"),
  "a bad method token": UTF8.encode("G(T /health HTTP/1.1\r\nHost: localhost\r\n\r\n"),
  "a NUL in the path": UTF8.encode("GET /he\0alth HTTP/1.1\r\nHost: localhost\r\n\r\n"),
  "a 200 kB header": UTF8.encode(
    `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(200_000)}\r\n\r\n`,
  ),
  "two Content-Lengths": UTF8.encode(
    "POST /broadcast/news/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
      'Content-Length: 3\r\nContent-Length: 15\r\n\r\n{"payload": 1}',
  ),
  "a chunk size that is not hex": UTF8.encode(
    "POST /broadcast/news/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
      'Transfer-Encoding: chunked\r\n\r\nzz\r\n{"payload": 1}\r\n0\r\n\r\n',
  ),
};

Deno.test("garbage bytes on either listener are answered 400 or dropped, and serving goes on", async (t) => {
  await using server = await startTestServer();
  await using listener = await subscriber(server, await server.mintToken(), ["news"]);
  for (const [name, bytes] of Object.entries(GARBAGE_REQUESTS)) {
    await t.step(name, async () => {
      for (const port of [server.apiAddr.port, server.wsAddr.port]) {
        const answer = await rawHttp(port, bytes);
        assert.ok(answer === "" || answer.startsWith("HTTP/1.1 400 "), JSON.stringify(answer));
      }
      const health = await server.api("/health");
      assert.equal(health.status, 200);
      await health.body?.cancel();
    });
  }
  await t.step("nothing was broadcast, and the server still serves", async () => {
    assert.equal(server.metrics.messagesPublished, 0);
    await assertStillServing(server, [listener]);
  });
});

Deno.test({
  name: "a request body cut short by the client is answered 400, not 500",
  // A truncated body is the client's mistake: 400, not a logged 500.
  fn: async () => {
    await using server = await startTestServer();
    const head =
      "POST /broadcast/news/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n";
    for (
      const cut of [
        'Content-Length: 100\r\n\r\n{"pay',
        'Transfer-Encoding: chunked\r\n\r\n5\r\n{"pay\r\n',
      ]
    ) {
      const answer = await rawHttp(server.apiAddr.port, UTF8.encode(head + cut), {
        isHalfClosed: true,
      });
      assert.match(answer, /^HTTP\/1\.1 400 /);
    }
  },
});
