import assert from "node:assert/strict";
import { NO_AUTH_WARNING, startupWarnings } from "../src/banner.ts";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";

const NO_KEY = /^The API listens on (\S+) without an API key: .*\(set --api-key\)$/;
const DEBUG_EXPOSED = /^Debug mode is on and the API listens on (\S+): .*\(set --no-debug\)$/;

/** Sends SIGTERM once `boreas` serves and returns how it exited. A request is answered first:
 * main.ts prints `Running...` just before it listens for signals, and a SIGTERM in between
 * kills it outright (see the report on main.ts). */
async function stop(boreas: BoreasProcess, apiPort: number) {
  const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
  await health.body?.cancel();
  assert.equal(health.status, 200);
  boreas.kill("SIGTERM");
  return await boreas.exited();
}

const ORIGINS_OPEN =
  /^Boreas listens on (\S+) and any website may open a WebSocket .*\(set --allowed-origins\)$/;

/** The warnings for `overrides`, with --allowed-origins set unless they say otherwise, so that
 * each test sees the warnings it is about. */
function warningsFor(overrides: Partial<Parameters<typeof startupWarnings>[0]>): string[] {
  return startupWarnings({ ...DEFAULT_CONFIG, allowedOrigins: ["https://app.test"], ...overrides });
}

Deno.test("startupWarnings() says nothing on loopback, even with debug and no key", () => {
  for (const apiHost of ["127.0.0.1", "localhost", "::1"]) {
    assert.deepEqual(warningsFor({ apiHost, debug: true, apiKey: [] }), [], apiHost);
  }
});

Deno.test("startupWarnings() warns beyond loopback without a key and with debug", () => {
  for (const apiHost of ["0.0.0.0", "::", "192.168.1.10"]) {
    const [noKey, debug, ...rest] = warningsFor({ apiHost, debug: true, apiKey: [] });
    assert.deepEqual(rest, [], apiHost);
    assert.equal(NO_KEY.exec(noKey ?? "")?.[1], apiHost, noKey);
    assert.equal(DEBUG_EXPOSED.exec(debug ?? "")?.[1], apiHost, debug);
  }
});

Deno.test("startupWarnings() drops each warning once its cause is fixed", () => {
  const apiHost = "0.0.0.0";
  const withKey = warningsFor({ apiHost, debug: true, apiKey: ["k1"] });
  assert.equal(withKey.length, 1);
  assert.match(withKey[0]!, DEBUG_EXPOSED);
  const noDebug = warningsFor({ apiHost, debug: false, apiKey: [] });
  assert.equal(noDebug.length, 1);
  assert.match(noDebug[0]!, NO_KEY);
  assert.deepEqual(warningsFor({ apiHost, debug: false, apiKey: ["k1"] }), []);
});

Deno.test("startupWarnings() warns beyond loopback without --allowed-origins", () => {
  for (const [apiHost, wsHost] of [["0.0.0.0", "127.0.0.1"], ["127.0.0.1", "::"]] as const) {
    const warnings = warningsFor({
      apiHost,
      wsHost,
      apiKey: ["k"],
      debug: false,
      allowedOrigins: [],
    });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.equal(ORIGINS_OPEN.exec(warnings[0]!)?.[1], apiHost === "0.0.0.0" ? apiHost : wsHost);
  }
  assert.deepEqual(warningsFor({ apiHost: "127.0.0.1", allowedOrigins: [] }), []);
});

Deno.test("startupWarnings() warns about --no-require-auth on any host", () => {
  assert.deepEqual(warningsFor({ apiHost: "127.0.0.1", requireAuth: false }), [NO_AUTH_WARNING]);
});

Deno.test("main.ts --api-host 0.0.0.0 prints its three warnings on stderr", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas(
    ["--api-host", "0.0.0.0", "--api-port", "0", "--ws-port", "0"],
    { cwd: dir.path },
  );
  const banner = await boreas.linesUntil("Running...");
  assert.ok(
    banner.some((line) => /^API endpoint configured to listen on 0\.0\.0\.0:\d+$/.test(line)),
  );
  const stderr = await boreas.stderrMatching(/^WARN Boreas listens on/);
  const warnings = stderr.split("\n").filter((line) => line.startsWith("WARN "));
  assert.equal(warnings.length, 3, stderr);
  assert.match(warnings[0]!.slice("WARN ".length), NO_KEY);
  assert.match(warnings[1]!.slice("WARN ".length), DEBUG_EXPOSED);
  assert.match(warnings[2]!.slice("WARN ".length), ORIGINS_OPEN);
  const exit = await stop(boreas, endpointsOf(banner).apiPort);
  assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
});

Deno.test("main.ts on loopback prints no startup warning", async () => {
  await using dir = await tempDir();
  await using boreas = await spawnBoreas(["--api-port", "0", "--ws-port", "0"], {
    cwd: dir.path,
  });
  const exit = await stop(boreas, endpointsOf(await boreas.linesUntil("Running...")).apiPort);
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(exit.stderr.split("\n").filter((line) => line.startsWith("WARN ")), []);
});
