import assert from "node:assert/strict";
import { CommandError, isCommand, runCommand } from "../src/commands.ts";
import { ConfigError } from "../src/config.ts";
import { createLogger } from "../src/log.ts";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { spawnBoreas, tempDir } from "./process_helpers.ts";

/** Runs a command against `server` (its API port is passed as a flag); returns the exit code
 * and what it printed. `./boreas.json` is never read: readFile finds nothing. */
async function run(server: TestServer, args: string[], env: Record<string, string> = {}) {
  const printed: string[] = [];
  const logger = createLogger({ stdout: (line) => printed.push(line), stderr: () => {} });
  const code = await runCommand([...args, "--api-port", String(server.apiAddr.port)], env, {
    logger,
    readFile: () => undefined,
  });
  return { code, printed };
}

/** The CommandError a command fails with. */
async function failure(promise: Promise<unknown>): Promise<CommandError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CommandError, `expected a CommandError, got ${error}`);
    return error;
  }
  throw new Error("expected the command to fail");
}

Deno.test("isCommand() tells commands from server options", () => {
  assert.equal(isCommand(["token", "create"]), true);
  assert.equal(isCommand(["publish", "c", "1"]), true);
  assert.equal(isCommand(["healthcheck"]), true);
  assert.equal(isCommand(["--api-port", "0"]), false);
  assert.equal(isCommand([]), false);
});

Deno.test("token create prints a token the server accepts", async () => {
  await using server = await startTestServer();
  const { code, printed } = await run(server, ["token", "create"]);
  assert.equal(code, 0);
  assert.equal(printed.length, 1);
  assert.match(printed[0]!, /^[A-Za-z0-9]{128}-\d+$/);
  assert.equal(await server.tokens.isValid(printed[0]!), true);
});

Deno.test("token revoke revokes, and fails with the API's error for an unknown token", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  assert.deepEqual(await run(server, ["token", "revoke", token]), { code: 0, printed: [] });
  assert.equal(await server.tokens.isValid(token), false);
  const error = await failure(run(server, ["token", "revoke", token]));
  assert.equal(error.exitCode, 1);
  assert.equal(error.message, "token revoke: 404 token: no such token");
});

Deno.test("publish prints the recipients, and sends nothing with --dry-run", async () => {
  await using server = await startTestServer();
  await using client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: await server.mintToken() }, 1), {
    ref: 1,
    ok: true,
  });
  client.send({ channels: { join: ["news"], leave: [] } });
  await server.untilMembers("news", 1);
  const dry = await run(server, ["publish", "news", '{"n": 0}', "--dry-run"]);
  assert.deepEqual(dry, { code: 0, printed: ["1"] });
  assert.deepEqual(await run(server, ["publish", "news", '{"n": 1}']), { code: 0, printed: ["1"] });
  // The dry run sent nothing: the first broadcast received is the real one.
  assert.deepEqual(await client.next(), { message: { n: 1 }, channel: "news" });
});

Deno.test("publish rejects bad arguments before calling the server", async () => {
  await using server = await startTestServer();
  for (
    const [args, message] of [
      [["publish", "news"], "publish: expected boreas publish CHANNEL JSON [--dry-run] [options]"],
      [
        ["publish", "news", "{nope"],
        "publish: JSON: expected a JSON value other than null, got {nope",
      ],
      [
        ["publish", "news", "null"],
        "publish: JSON: expected a JSON value other than null, got null",
      ],
      [
        ["token", "burn"],
        "token burn: unknown command; expected one of: token create, token revoke, publish, healthcheck",
      ],
    ] as const
  ) {
    const error = await failure(run(server, [...args]));
    assert.equal(error.exitCode, 2);
    assert.equal(error.message, message);
  }
  await assert.rejects(run(server, ["healthcheck", "--bogus"]), ConfigError);
  assert.equal(server.metrics.messagesPublished, 0);
});

Deno.test("commands send the API key from the environment, and fail without it", async () => {
  await using server = await startTestServer({ apiKey: ["k1"] });
  const error = await failure(run(server, ["token", "create"]));
  assert.equal(error.exitCode, 1);
  assert.match(error.message, /^token create: 401 /);
  const { code } = await run(server, ["token", "create"], { BOREAS_API_KEY: "k1" });
  assert.equal(code, 0);
  assert.equal(await server.tokens.count(), 1);
});

Deno.test("healthcheck prints ok, and fails when the server is unreachable", async () => {
  const server = await startTestServer();
  assert.deepEqual(await run(server, ["healthcheck"]), { code: 0, printed: ["ok"] });
  await server.shutdown();
  const error = await failure(run(server, ["healthcheck"]));
  assert.equal(error.exitCode, 1);
  assert.match(error.message, /^healthcheck: cannot reach http:\/\/127\.0\.0\.1:\d+: /);
});

Deno.test("main.ts runs a command and exits with its code", async () => {
  await using server = await startTestServer();
  await using dir = await tempDir();
  const port = String(server.apiAddr.port);
  await using create = await spawnBoreas(["token", "create", "--api-port", port], {
    cwd: dir.path,
  });
  const created = await create.exited();
  assert.equal(created.code, 0);
  assert.equal(await server.tokens.isValid(created.stdout[0] ?? ""), true);

  await using bad = await spawnBoreas(["publish", "news", "{", "--api-port", port], {
    cwd: dir.path,
  });
  const failed = await bad.exited();
  assert.equal(failed.code, 2);
  assert.equal(
    failed.stderr,
    "boreas: publish: JSON: expected a JSON value other than null, got {\n",
  );
});
