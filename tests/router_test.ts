import assert from "node:assert/strict";
import {
  errorResponse,
  formatJson,
  HttpError,
  jsonResponse,
  textResponse,
} from "../src/api/response.ts";
import { createRouter, type RequestHandler, type Route } from "../src/api/router.ts";
import { createLogger } from "../src/log.ts";

const BASE = "http://api.test";

/** A router over a few echoing routes, and the stderr lines its logger wrote. */
function testRouter(extra: Route[] = []): { handle: RequestHandler; logged: string[] } {
  const logged: string[] = [];
  const logger = createLogger({ stdout: () => {}, stderr: (line) => logged.push(line) });
  const teapot = new HttpError(418, 'short and "stout"', { headers: { "x-kind": "teapot" } });
  const echo = (name: string): Route["handler"] => ({ request, params }) =>
    jsonResponse({ route: name, method: request.method, params }, 200, { "x-route": name });
  const routes: Route[] = [
    ...extra,
    { method: "GET", path: "/tokens", handler: echo("list tokens") },
    { method: "POST", path: "/tokens", handler: echo("mint token") },
    { method: "DELETE", path: "/tokens/:token", handler: echo("revoke token") },
    { method: "POST", path: "/broadcast/:channel", handler: echo("broadcast") },
    { method: "GET", path: "/teapot", handler: () => Promise.reject(teapot) },
    {
      method: "GET",
      path: "/boom",
      handler: () => {
        throw new Error("kaboom");
      },
    },
  ];
  return { handle: createRouter(routes, { logger }), logged };
}

async function send(handle: RequestHandler, method: string, path: string): Promise<Response> {
  return await handle(new Request(`${BASE}${path}`, { method }));
}

Deno.test("createRouter() routes by method and path", async () => {
  const { handle } = testRouter();
  const cases = [
    ["GET", "/tokens", "list tokens", {}],
    ["POST", "/tokens", "mint token", {}],
    ["DELETE", "/tokens/abc-1", "revoke token", { token: "abc-1" }],
  ] as const;
  for (const [method, path, route, params] of cases) {
    const res = await send(handle, method, path);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { route, method, params });
  }
});

Deno.test("createRouter() makes the trailing slash optional", async () => {
  const { handle } = testRouter();
  for (const path of ["/tokens", "/tokens/"]) {
    const res = await send(handle, "GET", path);
    assert.equal(res.headers.get("x-route"), "list tokens", path);
    await res.body?.cancel();
  }
  for (const path of ["/broadcast/news", "/broadcast/news/"]) {
    const res = await send(handle, "POST", path);
    assert.deepEqual((await res.json()).params, { channel: "news" }, path);
  }
});

Deno.test("createRouter() routes on the path as the URL parser resolves it", async () => {
  const { handle } = testRouter();
  for (const path of ["/%2E/tokens", "/a/../tokens/", "/tokens?x=1", "/tokens#f", "/./tokens"]) {
    const res = await send(handle, "GET", path);
    assert.equal(res.headers.get("x-route"), "list tokens", path);
    await res.body?.cancel();
  }
  // A raw non-ASCII character arrives percent-encoded, and is decoded like any other.
  const res = await send(handle, "POST", "/broadcast/ü/");
  assert.deepEqual((await res.json()).params, { channel: "ü" });
});

Deno.test("createRouter() tries routes in order", async () => {
  const first: Route = { method: "GET", path: "/tokens", handler: () => textResponse("first") };
  const { handle } = testRouter([first]);
  assert.equal(await (await send(handle, "GET", "/tokens/")).text(), "first");
});

Deno.test("createRouter() percent-decodes path parameters", async () => {
  const { handle } = testRouter();
  const cases: Array<[string, string]> = [
    ["a%2Fb", "a/b"],
    ["h%C3%A9", "hé"],
    ["with%20space", "with space"],
    ["%E6%97%A5", "日"],
    ["plain", "plain"],
  ];
  for (const [raw, decoded] of cases) {
    const res = await send(handle, "POST", `/broadcast/${raw}/`);
    assert.deepEqual((await res.json()).params, { channel: decoded }, raw);
  }
});

Deno.test("createRouter() answers 400 for malformed percent-encoding", async () => {
  const { handle, logged } = testRouter();
  for (const raw of ["%E0%A4%A", "%zz", "%C3"]) {
    const res = await send(handle, "POST", `/broadcast/${raw}`);
    assert.equal(res.status, 400, raw);
    assert.deepEqual(await res.json(), {
      errors: [`channel: malformed percent-encoding in ${JSON.stringify(raw)}`],
    });
  }
  assert.deepEqual(logged, []);
});

Deno.test("createRouter() answers 404 for an unknown path", async () => {
  const { handle } = testRouter();
  for (const path of ["/nope", "/tokens/a/b", "/broadcast", "/"]) {
    const res = await send(handle, "GET", path);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("allow"), null);
    assert.equal(await res.text(), `{"errors": ["no route for ${path}"]}`);
  }
});

Deno.test("createRouter() answers 405 with Allow for a known path's other method", async () => {
  const { handle } = testRouter();
  const cases: Array<[method: string, path: string, allow: string]> = [
    ["DELETE", "/tokens", "GET, HEAD, POST"],
    ["PUT", "/tokens/", "GET, HEAD, POST"],
    ["GET", "/broadcast/news", "POST"],
    ["HEAD", "/broadcast/news", "POST"],
    ["POST", "/teapot", "GET, HEAD"],
    ["GET", "/tokens/abc", "DELETE"],
  ];
  for (const [method, path, allow] of cases) {
    const res = await send(handle, method, path);
    assert.equal(res.status, 405, `${method} ${path}`);
    assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
    assert.equal(res.headers.get("content-type"), "application/json");
    if (method === "HEAD") {
      await res.body?.cancel();
      continue;
    }
    assert.deepEqual(await res.json(), {
      errors: [`method ${method} not allowed on ${path}; allowed: ${allow}`],
    });
  }
});

Deno.test("createRouter() serves HEAD with the GET handler and no body", async () => {
  const { handle } = testRouter();
  const res = await send(handle, "HEAD", "/tokens/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-route"), "list tokens");
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.body, null);
});

Deno.test("createRouter() answers HEAD errors without a body", async () => {
  const { handle } = testRouter();
  const response = await send(handle, "HEAD", "/nope");
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(await response.text(), "");
});

Deno.test("createRouter() answers a thrown HttpError with its status and JSON errors", async () => {
  const { handle, logged } = testRouter();
  const res = await send(handle, "GET", "/teapot");
  assert.equal(res.status, 418);
  assert.equal(res.headers.get("content-type"), "application/json");
  assert.equal(res.headers.get("x-kind"), "teapot");
  assert.equal(await res.text(), '{"errors": ["short and \\"stout\\""]}');
  assert.deepEqual(logged, []);
});

Deno.test("createRouter() answers 500 for an unexpected throw and logs it once", async () => {
  const thrower: Route = { method: "POST", path: "/string", handler: () => Promise.reject("no") };
  const { handle, logged } = testRouter([thrower]);
  const res = await send(handle, "GET", "/boom/");
  assert.equal(res.status, 500);
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = await res.text();
  assert.equal(body, '{"errors": ["internal error"]}');
  assert.deepEqual(logged, [
    'ERROR unhandled error in API handler method="GET" route="/boom" error="kaboom"',
  ]);

  const other = await send(handle, "POST", "/string");
  assert.equal(other.status, 500);
  assert.deepEqual(await other.json(), { errors: ["internal error"] });
  assert.equal(logged.length, 2);
  assert.match(logged[1]!, /^ERROR .*method="POST" route="\/string" error="no"$/);
});

Deno.test("createRouter() logs an unexpected error with the route, never the path's values", async () => {
  const secret = "tok-SECRET-123";
  const revoke: Route = {
    method: "DELETE",
    path: "/tokens/:token",
    handler: () => Promise.reject(new Error("disk full")),
  };
  const { handle, logged } = testRouter([revoke]);
  assert.equal((await send(handle, "DELETE", `/tokens/${secret}/`)).status, 500);
  assert.deepEqual(logged, [
    'ERROR unhandled error in API handler method="DELETE" route="/tokens/:token" error="disk full"',
  ]);
});

Deno.test("formatJson() spaces items like Python's json.dumps", () => {
  assert.equal(formatJson({ token: "x" }), '{"token": "x"}');
  assert.equal(formatJson({ a: 1, b: true, c: null }), '{"a": 1, "b": true, "c": null}');
  assert.equal(formatJson([1, "two", false]), '[1, "two", false]');
  assert.equal(formatJson({}), "{}");
  assert.equal(formatJson([]), "[]");
  assert.equal(formatJson(3.5), "3.5");
  assert.equal(formatJson("s"), '"s"');
  assert.equal(formatJson(null), "null");
});

Deno.test("formatJson() spaces nested arrays and objects", () => {
  const value = { tokens: ["a", "b"], stats: { n: [1, [2, 3]], empty: {} }, list: [{ x: [] }] };
  assert.equal(
    formatJson(value),
    '{"tokens": ["a", "b"], "stats": {"n": [1, [2, 3]], "empty": {}}, "list": [{"x": []}]}',
  );
  assert.deepEqual(JSON.parse(formatJson(value)), value);
});

Deno.test("formatJson() escapes strings and keys as JSON and keeps unicode", () => {
  assert.equal(formatJson({ 'k"ey': 'say "hi"\n' }), '{"k\\"ey": "say \\"hi\\"\\n"}');
  assert.equal(formatJson({ name: "hé 日 🎉" }), '{"name": "hé 日 🎉"}');
  const value = { "\\": ["\u0001", "\ud83d\ude00", "tab\there"] };
  assert.deepEqual(JSON.parse(formatJson(value)), value);
});

Deno.test("formatJson() drops undefined properties and nulls undefined items", () => {
  assert.equal(formatJson({ a: undefined, b: 1 }), '{"b": 1}');
  assert.equal(formatJson([undefined]), "[null]");
  assert.equal(formatJson(undefined), "null");
});

Deno.test("jsonResponse(), textResponse() and errorResponse() set status and type", async () => {
  const json = jsonResponse({ a: [1] }, 201, { "content-type": "text/html", "x-a": "1" });
  assert.equal(json.status, 201);
  assert.equal(json.headers.get("content-type"), "application/json");
  assert.equal(json.headers.get("x-a"), "1");
  assert.equal(await json.text(), '{"a": [1]}');

  const text = textResponse("hi\n");
  assert.equal(text.status, 200);
  assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await text.text(), "hi\n");

  const error = errorResponse(new HttpError(409, "taken", { headers: { "retry-after": "1" } }));
  assert.equal(error.status, 409);
  assert.equal(error.headers.get("retry-after"), "1");
  assert.equal(await error.text(), '{"errors": ["taken"]}');
});

Deno.test("formatJson() renders values with toJSON as JSON.stringify does", () => {
  assert.equal(formatJson({ at: new Date(0) }), '{"at": "1970-01-01T00:00:00.000Z"}');
});
