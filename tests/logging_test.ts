import assert from "node:assert/strict";
import { createLogger, LOG_LEVELS, type Logger } from "../src/log.ts";
import { tokenFingerprint } from "../src/tokens.ts";
import { startTestServer, TestClient, withTimeout } from "./helpers.ts";
import { authenticateAndJoin } from "./integration_helpers.ts";

/** Runs a server with `logger` through a token's life: a connection authenticates with it and
 * joins a channel, an unknown token is tried, the token is revoked, its connection closes and
 * the server shuts down. Returns the token and the unknown one. */
async function tokenLifecycle(logger: Logger): Promise<{ token: string; unknown: string }> {
  const unknown = `${"u".repeat(128)}-1361390859`;
  await using server = await startTestServer({ logLevel: "debug" }, { logger });
  const token = await server.mintToken();
  await using client = await TestClient.connect(server.wsUrl);
  await authenticateAndJoin(client, token, ["news"]);
  assert.deepEqual(await client.request({ access_token: unknown }, "unknown"), {
    ref: "unknown",
    error: "access_token: unknown token",
  });
  const revoked = await server.api(`/token/${token}/`, { method: "DELETE" });
  assert.equal(revoked.status, 204);
  await revoked.body?.cancel();
  assert.deepEqual(await withTimeout(client.closed, "the close after revoking"), {
    code: 4001,
    reason: "token revoked",
  });
  await server.untilConnections(0);
  const missing = await server.api(`/token/${unknown}/`, { method: "DELETE" });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  return { token, unknown };
}

Deno.test("tokens never appear in the logs, their fingerprints do", async () => {
  const lines: string[] = [];
  const capture = (line: string) => lines.push(line);
  const logger = createLogger({ level: "debug", stdout: capture, stderr: capture });
  const { token, unknown } = await tokenLifecycle(logger);
  const text = lines.join("\n");
  for (const secret of [token, unknown]) {
    // Any recognizable part of a token is as bad as all of it.
    for (const part of [secret, secret.slice(0, 16), secret.slice(-32)]) {
      assert.ok(!text.includes(part), `a token appears in the log:\n${text}`);
    }
  }
  const fingerprint = tokenFingerprint(token);
  assert.ok(
    lines.includes(`DEBUG connection authenticated token="${fingerprint}"`),
    `no authentication line with the fingerprint:\n${text}`,
  );
  assert.ok(
    lines.includes(`INFO token revoked token="${fingerprint}" closed=1`),
    `no revocation line with the fingerprint:\n${text}`,
  );
});

Deno.test("--log-format json writes one JSON object a line with time, level, message and fields", async () => {
  const lines: string[] = [];
  const logger = createLogger({
    level: "debug",
    format: "json",
    stderr: (line) => lines.push(line),
  });
  const { token } = await tokenLifecycle(logger);
  assert.ok(lines.length >= 4, `expected a line per event, got:\n${lines.join("\n")}`);
  const entries = lines.map((line) => {
    assert.ok(!line.includes("\n"), `a log line spans lines: ${line}`);
    const entry: unknown = JSON.parse(line);
    assert.ok(typeof entry === "object" && entry !== null && !Array.isArray(entry), line);
    return entry as Record<string, unknown>;
  });
  for (const entry of entries) {
    const { time, level, message } = entry;
    assert.deepEqual(Object.keys(entry).slice(0, 3), ["time", "level", "message"]);
    assert.ok(typeof time === "string" && new Date(time).toISOString() === time, `time ${time}`);
    assert.ok(LOG_LEVELS.includes(level as typeof LOG_LEVELS[number]), `level ${level}`);
    assert.equal(typeof message, "string");
  }
  const fingerprint = tokenFingerprint(token);
  const withoutTime = entries.map(({ time: _, ...rest }) => rest);
  assert.deepEqual(withoutTime.filter((entry) => "token" in entry), [
    { level: "debug", message: "connection authenticated", token: fingerprint },
    { level: "info", message: "token revoked", token: fingerprint, closed: 1 },
  ]);
  assert.ok(!lines.join("\n").includes(token));
});

Deno.test("createLogger() with format json renders fields after time, level and message", () => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const logger = createLogger({
    level: "info",
    format: "json",
    stdout: (line) => stdout.push(line),
    stderr: (line) => stderr.push(line),
    now: () => Date.UTC(2024, 0, 2, 3, 4, 5, 6),
  });
  logger.debug("dropped", { n: 1 });
  logger.info("connection closed", { code: 1001, reason: 'a "quoted"\nreason', ok: true });
  logger.error("no fields");
  logger.print("a banner line");
  assert.deepEqual(stderr, [
    '{"time":"2024-01-02T03:04:05.006Z","level":"info","message":"connection closed",' +
    '"code":1001,"reason":"a \\"quoted\\"\\nreason","ok":true}',
    '{"time":"2024-01-02T03:04:05.006Z","level":"error","message":"no fields"}',
  ]);
  assert.deepEqual(stdout, ["a banner line"]);
});
