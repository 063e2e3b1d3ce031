/** The `Host` check against DNS rebinding, as curl and raw sockets see it: without an API key
 * the API and the WebSocket listener answer loopback names and `--allowed-hosts` only. */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { runCommand } from "../src/commands.ts";
import { createLogger } from "../src/log.ts";
import { curl } from "./curl.ts";
import { startTestServer, type TestServer } from "./helpers.ts";
import { TOKEN_PATTERN } from "./integration_helpers.ts";
import { endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";

const UPGRADE_HEADERS = [
  "Upgrade: websocket",
  "Connection: Upgrade",
  `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}`,
  "Sec-WebSocket-Version: 13",
].flatMap((header) => ["-H", header]);

/** curl's answer to `args` sent to `path` on the API with `Host: host`. */
function apiWithHost(server: TestServer, host: string, path: string, ...args: string[]) {
  return curl("-H", `Host: ${host}`, ...args, `${server.apiUrl}${path}`);
}

/** The 403 body for `host`, as the server spells JSON. */
function refused(host: string): string {
  const error = `host: ${JSON.stringify(host)} is not allowed (see --allowed-hosts)`;
  return `{"errors": [${JSON.stringify(error)}]}`;
}

/** Asserts a WebSocket with `Host: host` opens on `server`, then closes it. */
async function assertUpgradeAccepted(server: TestServer, host: string): Promise<void> {
  const socket = await RawWebSocket.connect(server.wsUrl, { host });
  try {
    await server.untilConnections(1);
  } finally {
    await socket[Symbol.asyncDispose]();
  }
  await server.untilConnections(0);
}

/** Starts a server on every interface: what the container does. */
function startOnAllInterfaces(overrides: Partial<Config>): Promise<TestServer> {
  return startTestServer({ apiHost: "0.0.0.0", wsHost: "0.0.0.0", ...overrides });
}

Deno.test("the quick start's curl calls to localhost are answered as before", async () => {
  await using server = await startTestServer();
  const api = `http://localhost:${server.apiAddr.port}`;
  const minted = await curl("-X", "POST", `${api}/token/`);
  assert.equal(minted.status, 200, minted.body);
  const token = (JSON.parse(minted.body) as { token: string }).token;
  assert.match(token, TOKEN_PATTERN);
  assert.deepEqual(await curl(`${api}/debug/token-dump`), { status: 200, body: `${token}\n` });
  const published = await curl(
    "-X",
    "POST",
    "-H",
    "Content-Type: application/json",
    `${api}/broadcast/ch1/`,
    "-d",
    '{"dryrun": false, "payload": {}}',
  );
  assert.deepEqual(published, { status: 200, body: '{"recipients": 0}' });
});

Deno.test("without --api-key the API answers loopback Host names and addresses, with any port", async () => {
  await using server = await startTestServer();
  const port = server.apiAddr.port;
  for (const host of [`127.0.0.2:${port}`, `[::1]:${port}`, "app.localhost", "LOCALHOST:1"]) {
    assert.deepEqual(await apiWithHost(server, host, "/debug/token-dump"), {
      status: 200,
      body: "",
    }, host);
  }
  // HTTP/1.0 without a Host header (curl drops it for an empty -H "Host:"): not a browser.
  const bare = await curl("--http1.0", "-H", "Host:", `${server.apiUrl}/debug/token-dump`);
  assert.deepEqual(bare, { status: 200, body: "" });
});

Deno.test("without --api-key the API refuses another Host with 403 on every route but /health", async () => {
  await using server = await startTestServer();
  const host = `evil.example:${server.apiAddr.port}`;
  const json = ["-H", "Content-Type: application/json"];
  const requests: string[][] = [
    ["/debug/token-dump"],
    ["/debug/recipient-dump"],
    ["/token/", "-X", "POST"],
    ["/broadcast/news/", ...json, "-d", '{"dryrun": false, "payload": 1}'],
    ["/stats"],
    ["/no/such/route"],
  ];
  for (const [path, ...args] of requests) {
    assert.deepEqual(
      await apiWithHost(server, host, path!, ...args),
      { status: 403, body: refused(host) },
      path,
    );
  }
  assert.equal(await server.tokens.count(), 0);
  assert.equal(server.metrics.messagesPublished, 0);
  // Load balancers and container health checks ask /health by whatever name they use.
  const health = await apiWithHost(server, host, "/health");
  assert.equal(health.status, 200, health.body);
});

Deno.test("a server on 0.0.0.0 with an API key answers any Host, as the container does", async () => {
  await using server = await startOnAllInterfaces({ apiKey: ["k"] });
  const minted = await apiWithHost(server, "example.com", "/token/", "-X", "POST", ...[
    "-H",
    "Authorization: Bearer k",
  ]);
  assert.equal(minted.status, 200, minted.body);
  const anonymous = await apiWithHost(server, "example.com", "/token/", "-X", "POST");
  assert.equal(anonymous.status, 401, anonymous.body);
  await assertUpgradeAccepted(server, "example.com:8002");
});

Deno.test("a server on 0.0.0.0 without a key answers Host example.com only when --allowed-hosts names it", async () => {
  await using closed = await startOnAllInterfaces({});
  assert.deepEqual(await apiWithHost(closed, "example.com", "/token/", "-X", "POST"), {
    status: 403,
    body: refused("example.com"),
  });
  // Its own listening address is no name a page can rebind: curl http://0.0.0.0:8001 works.
  const own = await apiWithHost(closed, `0.0.0.0:${closed.apiAddr.port}`, "/debug/token-dump");
  assert.equal(own.status, 200, own.body);

  await using named = await startOnAllInterfaces({ allowedHosts: ["example.com"] });
  const minted = await apiWithHost(named, "example.com", "/token/", "-X", "POST");
  assert.equal(minted.status, 200, minted.body);
  await assertUpgradeAccepted(named, "example.com");
  const other = await apiWithHost(named, "other.example", "/token/", "-X", "POST");
  assert.equal(other.status, 403, other.body);

  await using open = await startOnAllInterfaces({ allowedHosts: ["*"] });
  assert.equal((await apiWithHost(open, "other.example", "/token/", "-X", "POST")).status, 200);
});

Deno.test("the command-line helpers reach a server on 0.0.0.0 without a key", async () => {
  await using server = await startOnAllInterfaces({});
  const printed: string[] = [];
  const logger = createLogger({ stdout: (line) => printed.push(line), stderr: () => {} });
  const options = { logger, readFile: () => undefined };
  const env = { BOREAS_API_HOST: "0.0.0.0", BOREAS_API_PORT: String(server.apiAddr.port) };
  assert.equal(await runCommand(["token", "create"], env, options), 0);
  assert.equal(await runCommand(["healthcheck"], env, options), 0);
  assert.match(printed[0]!, TOKEN_PATTERN);
  assert.deepEqual(printed.slice(1), ["ok"]);
});

Deno.test("without --allowed-origins and --api-key the WebSocket listener refuses another Host", async () => {
  await using server = await startTestServer();
  const ws = `http://127.0.0.1:${server.wsAddr.port}`;
  const upgrade = await curl("-H", "Host: evil.example", ...UPGRADE_HEADERS, `${ws}/`);
  assert.deepEqual(upgrade, { status: 403, body: refused("evil.example") });
  const events = await curl("-H", "Host: evil.example", `${ws}/events?channel=news`);
  assert.deepEqual(events, { status: 403, body: refused("evil.example") });
  assert.equal(server.metrics.connectionsRefused, 2);
  assert.equal(server.hub.connectionCount, 0);

  await assertUpgradeAccepted(server, `localhost:${server.wsAddr.port}`);
  // Past the Host check, /events asks for its token.
  const stream = await curl("-H", "Host: localhost", `${ws}/events?channel=news`);
  assert.equal(stream.status, 401, stream.body);
});

Deno.test("with --allowed-origins the Origin decides on the WebSocket listener, not the Host", async () => {
  await using server = await startTestServer({ allowedOrigins: ["https://app.example"] });
  await assertUpgradeAccepted(server, "evil.example");
  const ws = `http://127.0.0.1:${server.wsAddr.port}/`;
  const evil = await curl(
    ...["-H", "Host: localhost", "-H", "Origin: https://evil.example"],
    ...UPGRADE_HEADERS,
    ws,
  );
  assert.equal(evil.status, 403, evil.body);
  assert.match(evil.body, /see --allowed-origins/);
});

Deno.test("main.ts on 0.0.0.0 without a key answers the BOREAS_ALLOWED_HOSTS names only", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas([
    "--api-host",
    "0.0.0.0",
    "--api-port",
    "0",
    "--ws-port",
    "0",
  ], {
    cwd: dir.path,
    env: { BOREAS_ALLOWED_HOSTS: "boreas.internal,10.0.0.5" },
  });
  const api = `http://127.0.0.1:${endpointsOf(await boreas.linesUntil("Running...")).apiPort}`;
  for (const host of ["boreas.internal", "10.0.0.5:8001", "localhost"]) {
    const answer = await curl("-H", `Host: ${host}`, `${api}/debug/token-dump`);
    assert.deepEqual(answer, { status: 200, body: "" }, host);
  }
  const other = await curl("-H", "Host: other.example", `${api}/debug/token-dump`);
  assert.deepEqual(other, { status: 403, body: refused("other.example") });
  boreas.kill("SIGTERM");
  const exit = await boreas.exited();
  assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
});
