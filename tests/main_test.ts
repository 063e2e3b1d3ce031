import assert from "node:assert/strict";
import { TestClient, withTimeout } from "./helpers.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";

const ON_PORT_0 = ["--api-port", "0", "--ws-port", "0"];
const DEBUG_LINES = [
  "Running in debug mode. Available debug urls are:",
  "\t- /debug/token-dump",
  "\t- /debug/recipient-dump",
];

/** The banner the original printed, with the ports `banner` names. */
function expectedBanner(
  banner: readonly string[],
  { provider = "none", tokenCount = 0, debug = true } = {},
): string[] {
  const { apiPort, wsPort } = endpointsOf(banner);
  return [
    `Using \`${provider}\` to get authentication tokens...`,
    `Done. Loaded ${tokenCount} tokens.`,
    "Configuring servers...",
    ...(debug ? DEBUG_LINES : []),
    `API endpoint configured to listen on 127.0.0.1:${apiPort}`,
    `WebSocket endpoint configured to listen on 127.0.0.1:${wsPort}`,
    "Running...",
  ];
}

async function mintToken(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/token/`, { method: "POST" });
  assert.equal(response.status, 200, `POST ${apiUrl}/token/`);
  const { token } = await response.json() as { token: string };
  return token;
}

/** The status and text of `GET path` on the API. */
async function get(apiUrl: string, path: string): Promise<[number, string]> {
  const response = await fetch(`${apiUrl}${path}`);
  return [response.status, await response.text()];
}

/** Waits for the banner, checks it line for line and returns the endpoints it names. */
async function runningBanner(
  boreas: BoreasProcess,
  expected: Parameters<typeof expectedBanner>[1],
) {
  const banner = await boreas.linesUntil("Running...");
  assert.deepEqual(banner, expectedBanner(banner, expected));
  const endpoints = endpointsOf(banner);
  // A real bound port answers: a port 0 or a made-up one would not.
  assert.equal((await get(endpoints.apiUrl, "/no-such-path"))[0], 404);
  return endpoints;
}

Deno.test("main.ts prints the original banner and serves on the ports it names", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas(ON_PORT_0, { cwd: dir.path });
  const { apiUrl, wsUrl, apiPort, wsPort } = await runningBanner(boreas, {});
  assert.notEqual(apiPort, wsPort);
  const token = await mintToken(apiUrl);
  const [status, dump] = await get(apiUrl, "/debug/token-dump");
  assert.equal(status, 200);
  assert.ok(dump.split("\n").includes(token), dump);
  await using client = await TestClient.connect(wsUrl);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }, 1), {
    ref: 1,
    error: "channels: authenticate first",
  });
  assert.deepEqual(await client.request({ access_token: token }, 2), { ref: 2, ok: true });
});

Deno.test("main.ts --no-debug leaves out the debug lines and the debug routes", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas([...ON_PORT_0, "--no-debug"], { cwd: dir.path });
  const { apiUrl } = await runningBanner(boreas, { debug: false });
  assert.equal((await get(apiUrl, "/debug/token-dump"))[0], 404);
  assert.equal((await get(apiUrl, "/debug/recipient-dump"))[0], 404);
});

Deno.test("main.ts serves the dashboard and its chart library, and --no-dashboard does not", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas(ON_PORT_0, { cwd: dir.path });
  const { apiUrl } = await runningBanner(boreas, {});
  const [status, page] = await get(apiUrl, "/dashboard");
  assert.equal(status, 200);
  assert.match(page, /<title>Boreas dashboard<\/title>/);
  const [scriptStatus, script] = await get(apiUrl, "/dashboard/uplot.js");
  assert.equal(scriptStatus, 200);
  assert.match(script, /uPlot/);
  await using off = await spawnBoreas([...ON_PORT_0, "--no-dashboard"], { cwd: dir.path });
  const endpoints = await runningBanner(off, {});
  assert.equal((await get(endpoints.apiUrl, "/dashboard"))[0], 404);
});

Deno.test("main.ts --tokens-file loads the file's tokens and accepts them", async () => {
  await using dir = await tempDir();
  const path = await dir.write("tokens.txt", "# startup tokens\nalpha-token\n\nbeta-token\n");
  await using boreas = await spawnBoreas([...ON_PORT_0, "--tokens-file", path], {
    cwd: dir.path,
  });
  const { apiUrl, wsUrl } = await runningBanner(boreas, {
    provider: `--tokens-file ${path}`,
    tokenCount: 2,
  });
  const [, dump] = await get(apiUrl, "/debug/token-dump");
  assert.deepEqual(dump.split("\n").filter((line) => line !== "").sort(), [
    "alpha-token",
    "beta-token",
  ]);
  await using client = await TestClient.connect(wsUrl);
  assert.deepEqual(await client.request({ access_token: "gamma-token" }, 1), {
    ref: 1,
    error: "access_token: unknown token",
  });
  assert.deepEqual(await client.request({ access_token: "beta-token" }, 2), { ref: 2, ok: true });
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }, 3), {
    ref: 3,
    ok: true,
  });
});

Deno.test("main.ts reads options from BOREAS_ variables", async () => {
  await using dir = await tempDir();
  const env = { BOREAS_API_PORT: "0", BOREAS_WS_PORT: "0", BOREAS_DEBUG: "false" };
  await using boreas = await spawnBoreas([], { cwd: dir.path, env });
  const { apiPort, wsPort } = await runningBanner(boreas, { debug: false });
  // Not the defaults 8001 and 8002: port 0 was asked for.
  assert.ok(apiPort !== 8001 && wsPort !== 8002, `${apiPort}, ${wsPort}`);
});

Deno.test("main.ts prefers flags over BOREAS_ variables", async () => {
  await using dir = await tempDir();
  const env = { BOREAS_API_PORT: "abc", BOREAS_WS_PORT: "70000", BOREAS_DEBUG: "false" };
  await using boreas = await spawnBoreas([...ON_PORT_0, "--debug"], { cwd: dir.path, env });
  await runningBanner(boreas, { debug: true });
});

Deno.test("main.ts reads ./boreas.json from its working directory", async () => {
  await using dir = await tempDir();
  await dir.write("boreas.json", JSON.stringify({ apiPort: 0, ws_port: 0, debug: false }));
  await using boreas = await spawnBoreas([], { cwd: dir.path });
  const { apiPort, wsPort } = await runningBanner(boreas, { debug: false });
  assert.ok(apiPort !== 8001 && wsPort !== 8002, `${apiPort}, ${wsPort}`);
});

Deno.test("main.ts reads the config file named by --config or BOREAS_CONFIG", async (t) => {
  await using dir = await tempDir();
  await using other = await tempDir();
  // Were ./boreas.json read as well, its unknown key would stop the server.
  await dir.write("boreas.json", JSON.stringify({ colour: "red" }));
  const path = await other.write("custom.json", JSON.stringify({ "api-port": 0, "ws-port": 0 }));
  const tokensPath = await other.write("tokens.txt", "alpha-token\n");
  await other.write("with_tokens.json", JSON.stringify({ tokensFile: tokensPath, debug: false }));
  await t.step("--config", async () => {
    await using boreas = await spawnBoreas(["--config", path, "--no-debug"], { cwd: dir.path });
    await runningBanner(boreas, { debug: false });
  });
  await t.step("BOREAS_CONFIG", async () => {
    const env = { BOREAS_CONFIG: `${other.path}/with_tokens.json` };
    await using boreas = await spawnBoreas(ON_PORT_0, { cwd: dir.path, env });
    await runningBanner(boreas, {
      provider: `--tokens-file ${tokensPath}`,
      tokenCount: 1,
      debug: false,
    });
  });
});

Deno.test("main.ts --no-require-auth warns on stderr and lets connections join", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas([...ON_PORT_0, "--no-require-auth"], { cwd: dir.path });
  const { wsUrl } = await runningBanner(boreas, {});
  const stderr = await boreas.stderrMatching(/^WARN Authentication is disabled/);
  assert.match(stderr, /\(--no-require-auth\)/);
  await using client = await TestClient.connect(wsUrl);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }, 1), {
    ref: 1,
    ok: true,
  });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`main.ts on ${signal} closes clients with 1001 and exits 0`, async () => {
    await using dir = await tempDir();
    await using boreas = await spawnBoreas(ON_PORT_0, { cwd: dir.path });
    const { apiUrl, wsUrl } = await runningBanner(boreas, {});
    await using client = await TestClient.connect(wsUrl);
    // The reply shows the server holds the socket open before the signal comes.
    const token = await mintToken(apiUrl);
    assert.deepEqual(await client.request({ access_token: token }, 1), { ref: 1, ok: true });
    boreas.kill(signal);
    const closed = await withTimeout(client.closed, `the client to be closed after ${signal}`);
    assert.deepEqual(closed, { code: 1001, reason: "server shutting down" });
    const exit = await boreas.exited();
    assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
    assert.doesNotMatch(exit.stderr, /Uncaught|^\s+at /m);
    assert.equal(exit.stdout.at(-1), "Running...");
  });
}
