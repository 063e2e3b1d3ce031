import assert from "node:assert/strict";
import { readJsonBody } from "../src/api/body.ts";
import { HttpError } from "../src/api/response.ts";

const BASE = "http://api.test";

/** A JSON POST with `body`; `headers` replace the default content type. */
function post(body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request(`${BASE}/x`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Asserts that `promise` rejects with an HttpError of `status` and `message`. */
async function assertHttpError(promise: Promise<unknown>, status: number, message: string) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, status);
    assert.equal(error.message, message);
    return true;
  });
}

/** A body stream of 50 chunks of `chunkSize` spaces, pulled on demand; counts pulls and notes
 * a cancel. */
function longBody(chunkSize: number) {
  const state = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (++state.pulls > 50) return controller.close();
      controller.enqueue(new TextEncoder().encode(" ".repeat(chunkSize)));
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, state };
}

Deno.test("readJsonBody() parses a JSON body", async () => {
  assert.deepEqual(await readJsonBody(post('{"dryrun": true, "payload": [1, "é"]}'), 100), {
    dryrun: true,
    payload: [1, "é"],
  });
});

Deno.test("readJsonBody() accepts parameters and any case in the content type", async () => {
  for (const type of ["application/json; charset=utf-8", "Application/JSON", " application/json"]) {
    assert.deepEqual(await readJsonBody(post("[1]", { "content-type": type }), 100), [1], type);
  }
});

Deno.test("readJsonBody() answers 415 for a wrong or missing content type", async () => {
  for (const type of ["text/plain", "application/jsonx", "application/x-www-form-urlencoded"]) {
    const request = post("{}", { "content-type": type });
    await assertHttpError(
      readJsonBody(request, 100),
      415,
      `content-type: expected application/json, got ${JSON.stringify(type)}`,
    );
  }
  const untyped = new Request(`${BASE}/x`, { method: "POST", body: new Uint8Array([123, 125]) });
  assert.equal(untyped.headers.get("content-type"), null);
  await assertHttpError(
    readJsonBody(untyped, 100),
    415,
    'content-type: expected application/json, got ""',
  );
});

Deno.test("readJsonBody() accepts a body of exactly maxBytes", async () => {
  assert.equal(await readJsonBody(post('"12345678"'), 10), "12345678");
});

Deno.test("readJsonBody() answers 413 for a declared content-length over the limit", async () => {
  const { stream, state } = longBody(4);
  const request = post(stream, { "content-length": "11" });
  assert.equal(request.headers.get("content-length"), "11");
  await assertHttpError(readJsonBody(request, 10), 413, "body: expected at most 10 bytes");
  assert.equal(state.pulls, 0);
  assert.equal(state.cancelled, true);
});

Deno.test("readJsonBody() answers 413 for a streamed body over the limit", async () => {
  const { stream, state } = longBody(4);
  const request = post(stream);
  assert.equal(request.headers.get("content-length"), null);
  await assertHttpError(readJsonBody(request, 10), 413, "body: expected at most 10 bytes");
  // 3 chunks reach 12 bytes; reading stops there and the rest is cancelled.
  assert.ok(state.pulls <= 4, `pulled ${state.pulls} chunks`);
  assert.equal(state.cancelled, true);
});

Deno.test("readJsonBody() answers 400 for a body that is not UTF-8", async () => {
  const bytes = new Uint8Array([0x22, 0xff, 0xfe, 0x22]);
  await assertHttpError(readJsonBody(post(bytes), 100), 400, "body: expected UTF-8 text");
  const truncated = new Uint8Array([0x22, 0xc3, 0x22]);
  await assertHttpError(readJsonBody(post(truncated), 100), 400, "body: expected UTF-8 text");
});

Deno.test("readJsonBody() answers 400 for a body that is not JSON", async () => {
  for (const body of ["{", "not json", "{'a': 1}", ""]) {
    await assertHttpError(readJsonBody(post(body), 100), 400, "body: expected JSON");
  }
  await assertHttpError(readJsonBody(post(null), 100), 400, "body: expected JSON");
});

Deno.test("readJsonBody() answers 400 for a body whose stream breaks off", async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"pay'));
      controller.error(new Error("connection reset"));
    },
  });
  await assertHttpError(
    readJsonBody(post(stream), 100),
    400,
    "body: the request body was cut short",
  );
});
