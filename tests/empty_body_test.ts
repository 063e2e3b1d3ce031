import assert from "node:assert/strict";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { TOKEN_PATTERN } from "./integration_helpers.ts";
import { curl } from "./curl.ts";

/** Sends `head` (CRLF line ends added) and `body` over a raw TCP connection, then reads the
 * answer until the server closes it. */
async function rawHttp(server: TestServer, head: string[], body = ""): Promise<string> {
  const { port } = new URL(server.apiUrl);
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  try {
    await connection.write(new TextEncoder().encode(`${head.join("\r\n")}\r\n\r\n${body}`));
    return new TextDecoder().decode(await new Response(connection.readable).arrayBuffer());
  } catch (error) {
    connection.close();
    throw error;
  }
}

/** Asserts `body` is a mint answer whose token authenticates a WebSocket. */
async function assertWorkingToken(server: TestServer, body: string, what: string) {
  const match = /^\{"token": "([^"]+)"\}$/.exec(body.trim());
  assert.ok(match && TOKEN_PATTERN.test(match[1]!), `${what}: answered ${body}`);
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: match[1] }), { ref: 1, ok: true }, what);
}

Deno.test("POST /token/ with an empty body mints an open token whatever the headers say", async () => {
  await using server = await startTestServer();
  const url = `${server.apiUrl}/token/`;
  const curlVariants: Array<[string, string[]]> = [
    ["curl -X POST", ["-X", "POST", url]],
    ["curl -d ''", ["-d", "", url]],
    ["curl --data-binary @/dev/null as JSON", [
      "--data-binary",
      "@/dev/null",
      "-H",
      "Content-Type: application/json",
      url,
    ]],
    ["curl -d '' as text/plain", ["-d", "", "-H", "Content-Type: text/plain", url]],
    ["curl, a chunked empty body", [
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      "@/dev/null",
      url,
    ]],
  ];
  for (const [what, args] of curlVariants) {
    const { status, body } = await curl(...args);
    assert.equal(status, 200, `${what}: ${body}`);
    await assertWorkingToken(server, body, what);
  }
  const fetched = await fetch(url, { method: "POST", body: "" });
  assert.equal(fetched.status, 200);
  await assertWorkingToken(server, await fetched.text(), 'fetch with body: ""');

  const http10 = await rawHttp(server, ["POST /token/ HTTP/1.0", "Host: localhost"]);
  assert.match(http10, /^HTTP\/1\.[01] 200 /);
  await assertWorkingToken(server, http10.slice(http10.indexOf("\r\n\r\n") + 4), "HTTP/1.0");

  const chunked = await rawHttp(server, [
    "POST /token/ HTTP/1.1",
    "Host: localhost",
    "Content-Type: application/json",
    "Transfer-Encoding: chunked",
    "Connection: close",
  ], "0\r\n\r\n");
  assert.match(chunked, /^HTTP\/1\.1 200 /);
  await assertWorkingToken(server, chunked.slice(chunked.indexOf("\r\n\r\n") + 4), "raw chunked");
});

Deno.test("POST /token/ with a non-empty body keeps its answers", async () => {
  await using server = await startTestServer();
  const url = `${server.apiUrl}/token/`;
  const plain = await curl("-d", '{"ttl": 60}', "-H", "Content-Type: text/plain", url);
  assert.equal(plain.status, 415);
  assert.match(plain.body, /content-type: expected application\/json/);
  const form = await curl("-d", "ttl=60", url);
  assert.equal(form.status, 415);
  const malformed = await curl("-d", "{", "-H", "Content-Type: application/json", url);
  assert.deepEqual({ ...malformed, body: JSON.parse(malformed.body) }, {
    status: 400,
    body: { errors: ["body: expected JSON"] },
  });
  const chunkedPlain = await curl(
    "-H",
    "Transfer-Encoding: chunked",
    "-H",
    "Content-Type: text/plain",
    "-d",
    "{}",
    url,
  );
  assert.equal(chunkedPlain.status, 415);
  const granted = await curl(
    "-d",
    '{"channels": ["ch1"]}',
    "-H",
    "Content-Type: application/json",
    url,
  );
  assert.equal(granted.status, 200);
  assert.match(granted.body, /^\{"token": "/);
});

Deno.test("with an API key, an empty POST /token/ without the key is still 401", async () => {
  await using server = await startTestServer({ apiKey: ["secret"] });
  const url = `${server.apiUrl}/token/`;
  assert.equal((await curl("-X", "POST", url)).status, 401);
  const { status, body } = await curl("-X", "POST", "-H", "Authorization: Bearer secret", url);
  assert.equal(status, 200);
  await assertWorkingToken(server, body, "with the key");
});

Deno.test("POST /broadcast/ still needs a JSON body", async () => {
  await using server = await startTestServer();
  const url = `${server.apiUrl}/broadcast/ch1/`;
  const empty = await curl("-X", "POST", url);
  assert.equal(empty.status, 415);
  const emptyJson = await curl("-X", "POST", "-H", "Content-Type: application/json", url);
  assert.deepEqual(JSON.parse(emptyJson.body), { errors: ["body: expected JSON"] });
});

/** Writes `head` and then `piece` of the body every `everyMs`, at most `pieces` times, until
 * the server answers; returns the answer's status line. */
async function slowWriter(
  server: TestServer,
  head: string[],
  { piece, pieces, everyMs }: { piece: string; pieces: number; everyMs: number },
) {
  const { port } = new URL(server.apiUrl);
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const encoder = new TextEncoder();
  await connection.write(encoder.encode(`${head.join("\r\n")}\r\n\r\n`));
  let isAnswered = false;
  const writing = (async () => {
    for (let sent = 0; sent < pieces && !isAnswered; sent++) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      if (!isAnswered) await connection.write(encoder.encode(piece)).catch(() => {});
    }
  })();
  const reader = connection.readable.getReader();
  const { value } = await reader.read();
  isAnswered = true;
  await writing;
  await reader.cancel();
  return new TextDecoder().decode(value).split("\r\n", 1)[0];
}

Deno.test("a request body that trickles in gets 408 after --body-timeout", async () => {
  await using server = await startTestServer({ bodyTimeout: 0.3 });
  // 40 bytes at one per 50 ms would take 2 s: far past the timeout, and bounded.
  const declared = await slowWriter(server, [
    "POST /broadcast/ch1/ HTTP/1.1",
    "Host: localhost",
    "Content-Type: application/json",
    "Content-Length: 40",
  ], { piece: " ", pieces: 40, everyMs: 50 });
  assert.equal(declared, "HTTP/1.1 408 Request Timeout");
  const chunked = await slowWriter(server, [
    "POST /token/ HTTP/1.1",
    "Host: localhost",
    "Content-Type: application/json",
    "Transfer-Encoding: chunked",
  ], { piece: "1\r\n \r\n", pieces: 40, everyMs: 50 });
  assert.equal(chunked, "HTTP/1.1 408 Request Timeout");
  // The server goes on serving everyone else.
  assert.equal((await curl("-X", "POST", `${server.apiUrl}/token/`)).status, 200);
});
