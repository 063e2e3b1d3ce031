/** Blocks kept by `--token-store` across a crash of main.ts: a block until lifted stands after
 * a restart, one whose ttl ran out is dropped when the store is compacted, and lifting one is
 * kept too. */

import assert from "node:assert/strict";
import { until } from "./cluster_helpers.ts";
import { TestClient } from "./helpers.ts";
import { type BoreasProcess, endpointsOf, spawnBoreas, tempDir } from "./process_helpers.ts";

/** Starts main.ts on free ports with `--token-store store`; returns it and its URLs. */
async function start(store: string, cwd: string) {
  const boreas = await spawnBoreas(["--api-port", "0", "--ws-port", "0", "--token-store", store], {
    cwd,
  });
  return { boreas, ...endpointsOf(await boreas.linesUntil("Running...")) };
}

async function crash(boreas: BoreasProcess): Promise<void> {
  boreas.kill("SIGKILL");
  assert.equal((await boreas.exited()).signal, "SIGKILL");
}

async function answer(apiUrl: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const text = await response.text();
  return { status: response.status, value: text === "" ? null : JSON.parse(text) };
}

/** What the server answers a connection authenticating with `token`: `ok`, or the error. */
async function authAnswer(wsUrl: string, token: string): Promise<string> {
  await using client = await TestClient.connect(wsUrl);
  const reply = await client.request({ access_token: token }) as { ok?: true; error?: string };
  return reply.ok ? "ok" : reply.error!;
}

Deno.test("main.ts --token-store keeps blocks across a SIGKILL, and drops those that ended", async () => {
  await using dir = await tempDir();
  const store = `${dir.path}/tokens.log`;
  let token: string;
  {
    const { boreas, apiUrl, wsUrl } = await start(store, dir.path);
    await using _boreas = boreas;
    ({ token } = (await answer(apiUrl, "POST", "/token/", { user: "alice" })).value);
    assert.equal((await answer(apiUrl, "PUT", "/users/alice/block")).status, 200);
    assert.equal((await answer(apiUrl, "PUT", "/users/bob/block", { ttl: 1 })).status, 200);
    assert.equal(await authAnswer(wsUrl, token), "access_token: user blocked");
    await until(
      async () => {
        return (await answer(apiUrl, "GET", "/users/bob/")).value.block === null;
      },
      "bob's block to end",
      3_000,
    );
    await crash(boreas);
  }
  {
    const { boreas, apiUrl, wsUrl } = await start(store, dir.path);
    await using _boreas = boreas;
    assert.deepEqual((await answer(apiUrl, "GET", "/users/alice/")).value, {
      connections: 0,
      tokens: 1,
      block: { "expires_at": null },
    });
    assert.equal(await authAnswer(wsUrl, token), "access_token: user blocked");
    // Compacted: the token and alice's block; bob's ended and is gone.
    const lines = (await Deno.readTextFile(store)).split("\n");
    assert.deepEqual(lines.slice(1), ['!{"block":"alice","expires_at":null}', ""]);
    assert.ok(lines[0]!.startsWith(`+${token}\t`));
    assert.equal((await answer(apiUrl, "DELETE", "/users/alice/block")).status, 204);
    await crash(boreas);
  }
  const { boreas, apiUrl, wsUrl } = await start(store, dir.path);
  await using _boreas = boreas;
  assert.equal((await answer(apiUrl, "GET", "/users/alice/")).value.block, null);
  assert.equal(await authAnswer(wsUrl, token), "ok");
  assert.equal((await Deno.readTextFile(store)).split("\n").length, 2);
});
