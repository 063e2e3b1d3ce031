import assert from "node:assert/strict";
import { ConfigError } from "../src/config.ts";
import { loadTokens, parseTokensFile } from "../src/token_sources.ts";
import { withTimeout } from "./helpers.ts";
import { tempDir } from "./process_helpers.ts";

const NO_PROVIDER = { tokensFile: null, tokensUrl: null };

/** A real HTTP server on 127.0.0.1 port 0 answering every request with `handler`; it records
 * each request's method, path and Authorization header. */
function serveTokens(handler: () => Response | Promise<Response>) {
  const requests: Array<{ method: string; path: string; authorization: string | null }> = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    requests.push({
      method: request.method,
      path: pathname,
      authorization: request.headers.get("authorization"),
    });
    return handler();
  });
  return {
    origin: `127.0.0.1:${server.addr.port}`,
    url: `http://127.0.0.1:${server.addr.port}/tokens`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** The problems of the `ConfigError` that `promise` rejects with. */
async function problemsOf(promise: Promise<unknown>): Promise<readonly string[]> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseTokensFile() skips blank lines and # comments and trims each line", () => {
  const text = "  alpha  \n\n# a comment, with spaces\n\tbeta\t\n   # indented comment\n   \ngamma";
  assert.deepEqual(parseTokensFile(text), ["alpha", "beta", "gamma"]);
  assert.deepEqual(parseTokensFile(""), []);
  assert.deepEqual(parseTokensFile("# only a comment\n"), []);
});

Deno.test("parseTokensFile() reads CRLF line ends", () => {
  assert.deepEqual(parseTokensFile("alpha\r\nbeta\r\n\r\n# c\r\ngamma\r\n"), [
    "alpha",
    "beta",
    "gamma",
  ]);
});

Deno.test("parseTokensFile() rejects a token with a space inside, naming its line", () => {
  assert.throws(() => parseTokensFile("alpha\n\n# ok\nbe ta\n"), {
    name: "ConfigError",
    problems: ["--tokens-file: line 4: expected one token without spaces"],
  });
  assert.throws(() => parseTokensFile("alpha\r\nbe\tta\r\n"), {
    problems: ["--tokens-file: line 2: expected one token without spaces"],
  });
  assert.throws(() => parseTokensFile("a b", "tokens.txt"), {
    problems: ["tokens.txt: line 1: expected one token without spaces"],
  });
});

Deno.test("loadTokens() without a provider gives no tokens from `none`", async () => {
  assert.deepEqual(await loadTokens(NO_PROVIDER), { provider: "none", tokens: [] });
});

Deno.test("loadTokens() reads --tokens-file and names it with its path", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.txt", "# startup tokens\r\nalpha\r\n\r\n  beta\n");
  assert.deepEqual(await loadTokens({ tokensFile: path, tokensUrl: null }), {
    provider: `--tokens-file ${path}`,
    tokens: ["alpha", "beta"],
  });
});

Deno.test("loadTokens() names --tokens-file and the line of a bad token in the file", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.txt", "alpha\nbe ta\n");
  assert.deepEqual(await problemsOf(loadTokens({ tokensFile: path, tokensUrl: null })), [
    "--tokens-file: line 2: expected one token without spaces",
  ]);
});

Deno.test("loadTokens() names --tokens-file and the path of a missing file", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/missing.txt`;
  const problems = await problemsOf(loadTokens({ tokensFile: path, tokensUrl: null }));
  assert.equal(problems.length, 1);
  assert.ok(problems[0]!.startsWith(`--tokens-file: cannot read ${JSON.stringify(path)}: `));
});

Deno.test("loadTokens() fetches --tokens-url answering a JSON array", async () => {
  await using server = serveTokens(() => Response.json(["alpha", "beta"]));
  assert.deepEqual(await loadTokens({ tokensFile: null, tokensUrl: server.url }), {
    provider: `--tokens-url ${server.url}`,
    tokens: ["alpha", "beta"],
  });
  assert.deepEqual(server.requests, [{ method: "GET", path: "/tokens", authorization: null }]);
});

Deno.test('loadTokens() fetches --tokens-url answering {"tokens": [...]}', async () => {
  await using server = serveTokens(() => Response.json({ tokens: ["alpha"], extra: 1 }));
  assert.deepEqual(await loadTokens({ tokensFile: null, tokensUrl: server.url }), {
    provider: `--tokens-url ${server.url}`,
    tokens: ["alpha"],
  });
});

Deno.test("loadTokens() sends a tokens URL's credentials but never names them", async () => {
  await using server = serveTokens(() => Response.json(["alpha"]));
  const url = `http://reader:s3cret@${server.origin}/tokens`;
  const loaded = await loadTokens({ tokensFile: null, tokensUrl: url });
  assert.deepEqual(loaded, { provider: `--tokens-url ${server.url}`, tokens: ["alpha"] });
  assert.equal(server.requests[0]?.authorization, `Basic ${btoa("reader:s3cret")}`);
  assert.doesNotMatch(loaded.provider, /s3cret|reader/);
});

Deno.test("loadTokens() rejects a tokens URL answering 500, without its credentials", async () => {
  await using server = serveTokens(() => new Response("broken", { status: 500 }));
  const url = `http://reader:s3cret@${server.origin}/tokens`;
  assert.deepEqual(await problemsOf(loadTokens({ tokensFile: null, tokensUrl: url })), [
    `--tokens-url: ${server.url}: expected a 2xx answer, got 500`,
  ]);
});

Deno.test("loadTokens() rejects a tokens URL answering a body that is not JSON", async () => {
  await using server = serveTokens(() => new Response("alpha\nbeta\n"));
  assert.deepEqual(await problemsOf(loadTokens({ tokensFile: null, tokensUrl: server.url })), [
    `--tokens-url: ${server.url}: expected a JSON body`,
  ]);
});

Deno.test("loadTokens() rejects a tokens URL answering JSON of the wrong shape", async (t) => {
  const shape = 'expected a JSON array of strings or {"tokens": [...]}';
  const cases: Array<[unknown, string]> = [
    [{ list: ["alpha"] }, shape],
    [{ tokens: "alpha" }, shape],
    ["alpha", shape],
    [null, shape],
    [["alpha", 3], "tokens[1]: expected a non-empty string without spaces"],
    [{ tokens: ["alpha", "be ta"] }, "tokens[1]: expected a non-empty string without spaces"],
    [[""], "tokens[0]: expected a non-empty string without spaces"],
  ];
  for (const [body, problem] of cases) {
    await t.step(JSON.stringify(body), async () => {
      await using server = serveTokens(() => Response.json(body));
      assert.deepEqual(await problemsOf(loadTokens({ tokensFile: null, tokensUrl: server.url })), [
        `--tokens-url: ${server.url}: ${problem}`,
      ]);
    });
  }
});

Deno.test("loadTokens() rejects a tokens URL nobody listens on", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${listener.addr.port}/tokens`;
  listener.close();
  const problems = await problemsOf(loadTokens({ tokensFile: null, tokensUrl: url }));
  assert.equal(problems.length, 1);
  assert.ok(problems[0]!.startsWith(`--tokens-url: ${url}: request failed: `), problems[0]);
});

Deno.test("loadTokens() gives up on a tokens URL slower than timeoutMs", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  await using server = serveTokens(async () => {
    await released;
    return Response.json(["late"]);
  });
  try {
    const loading = loadTokens({ tokensFile: null, tokensUrl: server.url }, { timeoutMs: 50 });
    const problems = await withTimeout(problemsOf(loading), "loadTokens() to give up");
    assert.equal(problems.length, 1);
    assert.ok(problems[0]!.startsWith(`--tokens-url: ${server.url}: request failed: `));
  } finally {
    release();
  }
});
