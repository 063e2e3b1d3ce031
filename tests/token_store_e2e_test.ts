import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";

const ON_PORT_0 = ["--api-port", "0", "--ws-port", "0"];

/** Waits for `Running...` and returns the API and WebSocket URLs and the banner. */
async function running(boreas: BoreasProcess) {
  const banner = await boreas.linesUntil("Running...");
  return { ...endpointsOf(banner), banner };
}

async function mint(apiUrl: string): Promise<string> {
  const response = await fetch(`${apiUrl}/token/`, { method: "POST" });
  assert.equal(response.status, 200, "POST /token/");
  return ((await response.json()) as { token: string }).token;
}

async function revoke(apiUrl: string, token: string): Promise<void> {
  const response = await fetch(`${apiUrl}/token/${token}/`, { method: "DELETE" });
  await response.body?.cancel();
  assert.equal(response.status, 204, "DELETE /token/T/");
}

async function tokenDump(apiUrl: string): Promise<string[]> {
  const response = await fetch(`${apiUrl}/debug/token-dump`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return text.split("\n").filter((line) => line !== "").sort();
}

/** Whether `token` authenticates a fresh connection, as the server's reply to a `ref` says. */
async function isAccepted(wsUrl: string, token: string): Promise<boolean> {
  await using client = await TestClient.connect(wsUrl);
  const reply = await client.request({ access_token: token }, "auth");
  if (JSON.stringify(reply) === JSON.stringify({ ref: "auth", ok: true })) return true;
  assert.deepEqual(reply, { ref: "auth", error: "access_token: unknown token" });
  return false;
}

/** Kills `boreas` with SIGKILL, as a crash would, and waits for it to be gone. */
async function crash(boreas: BoreasProcess): Promise<void> {
  boreas.kill("SIGKILL");
  const exit = await boreas.exited();
  assert.equal(exit.signal, "SIGKILL");
}

Deno.test("main.ts --token-store keeps acknowledged tokens across a SIGKILL", async () => {
  await using dir = await tempDir();
  const store = `${dir.path}/tokens.log`;
  const args = [...ON_PORT_0, "--token-store", store];
  let kept: string[];
  let revoked: string;
  {
    await using boreas = await spawnBoreas(args, { cwd: dir.path });
    const { apiUrl, banner } = await running(boreas);
    assert.ok(banner.includes("Done. Loaded 0 tokens."), banner.join("\n"));
    const [first, second, third] = [await mint(apiUrl), await mint(apiUrl), await mint(apiUrl)];
    await revoke(apiUrl, second!);
    kept = [first!, third!];
    revoked = second!;
    // Every change was on disk before the API answered, so it is there before the crash.
    assert.equal(
      await Deno.readTextFile(store),
      `+${first}\n+${second}\n+${third}\n-${second}\n`,
    );
    await crash(boreas);
  }
  await using boreas = await spawnBoreas(args, { cwd: dir.path });
  const { apiUrl, wsUrl, banner } = await running(boreas);
  assert.ok(banner.includes("Done. Loaded 2 tokens."), banner.join("\n"));
  assert.deepEqual(await tokenDump(apiUrl), [...kept].sort());
  assert.equal(await isAccepted(wsUrl, kept[0]!), true);
  assert.equal(await isAccepted(wsUrl, kept[1]!), true);
  assert.equal(await isAccepted(wsUrl, revoked), false);
  // The restart compacted the file: one line per valid token (a token minted and revoked is
  // forgotten), secrets readable by the owner only.
  assert.equal(await Deno.readTextFile(store), `+${kept[0]}\n+${kept[1]}\n`);
  assert.equal((await Deno.stat(store)).mode! & 0o777, 0o600);
});

Deno.test("main.ts --token-store keeps a provider's token revoked across a restart", async () => {
  await using dir = await tempDir();
  const tokensFile = await dir.write("tokens.txt", "alpha-token\nbeta-token\n");
  const args = [...ON_PORT_0, "--tokens-file", tokensFile, "--token-store", "tokens.log"];
  {
    await using boreas = await spawnBoreas(args, { cwd: dir.path });
    const { apiUrl, banner } = await running(boreas);
    assert.ok(banner.includes("Done. Loaded 2 tokens."), banner.join("\n"));
    await revoke(apiUrl, "alpha-token");
    await crash(boreas);
  }
  await using boreas = await spawnBoreas(args, { cwd: dir.path });
  const { apiUrl, wsUrl, banner } = await running(boreas);
  assert.ok(banner.includes("Done. Loaded 1 tokens."), banner.join("\n"));
  assert.deepEqual(await tokenDump(apiUrl), ["beta-token"]);
  assert.equal(await isAccepted(wsUrl, "alpha-token"), false);
  assert.equal(await isAccepted(wsUrl, "beta-token"), true);
});

Deno.test("main.ts --token-store starts on a torn last line, warns and drops it", async () => {
  await using dir = await tempDir();
  const store = await dir.write("tokens.log", "+good-token\n-gone-token\n+torn-token");
  await using boreas = await spawnBoreas([...ON_PORT_0, "--token-store", store], {
    cwd: dir.path,
  });
  const { apiUrl, wsUrl, banner } = await running(boreas);
  assert.ok(banner.includes("Done. Loaded 1 tokens."), banner.join("\n"));
  const stderr = await boreas.stderrMatching(/^WARN token store: /);
  assert.match(stderr, /^WARN token store: skipped torn or malformed lines lines=1$/m);
  assert.deepEqual(await tokenDump(apiUrl), ["good-token"]);
  assert.equal(await isAccepted(wsUrl, "torn-token"), false);
  assert.equal(await isAccepted(wsUrl, "good-token"), true);
  assert.equal(await Deno.readTextFile(store), "+good-token\n-gone-token\n");
  boreas.kill("SIGTERM");
  const exit = await boreas.exited();
  assert.deepEqual([exit.code, exit.signal], [0, null], exit.stderr);
});

Deno.test("main.ts --token-store on a path it cannot open exits 2 with one line", async (t) => {
  await using dir = await tempDir();
  const cases = [["a directory", dir.path], ["in a missing directory", `${dir.path}/no/t.log`]];
  for (const [label, store] of cases as Array<[string, string]>) {
    await t.step(label, async () => {
      await using boreas = await spawnBoreas([...ON_PORT_0, "--token-store", store], {
        cwd: dir.path,
      });
      const exit = await boreas.exited();
      assert.equal(exit.code, 2, exit.stderr);
      // Nothing was started: not even the banner.
      assert.deepEqual(exit.stdout, []);
      const lines = exit.stderr.split("\n").filter((line) => line !== "");
      assert.equal(lines.length, 1, exit.stderr);
      const prefix = `boreas: --token-store: cannot open ${JSON.stringify(store)}: `;
      assert.ok(lines[0]!.startsWith(prefix), lines[0]);
    });
  }
});

Deno.test("main.ts --token-store keeps a token's grants across a SIGKILL", async () => {
  await using dir = await tempDir();
  const args = [...ON_PORT_0, "--token-store", `${dir.path}/tokens.log`];
  let token: string;
  let expected: unknown;
  {
    await using boreas = await spawnBoreas(args, { cwd: dir.path });
    const { apiUrl } = await running(boreas);
    const response = await fetch(`${apiUrl}/token/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channels: ["room:*"], ttl: 3600, user: "7" }),
    });
    const minted = await response.json() as { token: string; expires_at: number };
    token = minted.token;
    expected = {
      token,
      channels: ["room:*"],
      publish: [],
      expires_at: minted.expires_at,
      user: "7",
    };
    await crash(boreas);
  }
  await using again = await spawnBoreas(args, { cwd: dir.path });
  const { apiUrl } = await running(again);
  const response = await fetch(`${apiUrl}/token/${token}/`);
  assert.deepEqual(await response.json(), expected);
});
