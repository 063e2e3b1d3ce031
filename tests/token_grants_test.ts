/**
 * Token grants on real servers, standalone and on two cluster nodes: minting with channels, ttl
 * and user, reading a token back, joins outside the grants, expiry closing a live connection,
 * and re-authentication.
 */

import assert from "node:assert/strict";
import { TestClient, withTimeout } from "./helpers.ts";
import { readErrors, readJson } from "./integration_helpers.ts";
import { authenticated, bothModes, mint } from "./modes.ts";
import { startNode } from "./cluster_helpers.ts";
import { startRedis } from "./redis_server.ts";

bothModes(
  "POST /token/ mints with grants and GET /token/{token}/ reads them",
  async ({ minter, server }) => {
    const before = Date.now() / 1000;
    const minted = await mint(minter, { channels: ["room:42", "user:7:*"], ttl: 3600, user: "7" });
    const after = Date.now() / 1000;
    const token = minted.token as string;
    const expiresAt = minted.expires_at as number;
    assert.deepEqual(Object.keys(minted), ["token", "expires_at"]);
    // At least the ttl, rounded up to a whole second.
    assert.ok(expiresAt >= before + 3600 && expiresAt < after + 3601, `${expiresAt}`);
    const { value } = await readJson(await server.api(`/token/${token}/`), 200);
    assert.deepEqual(value, {
      token,
      channels: ["room:42", "user:7:*"],
      publish: [],
      expires_at: expiresAt,
      user: "7",
    });
    const publisher = await mint(minter, { channels: ["room:*"], publish: ["room:*"] });
    assert.deepEqual(
      (await readJson(await server.api(`/token/${publisher.token}/`), 200)).value,
      {
        token: publisher.token,
        channels: ["room:*"],
        publish: ["room:*"],
        expires_at: null,
        user: null,
      },
    );
    const open = await mint(minter, {});
    assert.deepEqual(Object.keys(open), ["token"]);
    assert.deepEqual((await readJson(await server.api(`/token/${open.token}/`), 200)).value, {
      token: open.token,
      channels: null,
      publish: [],
      expires_at: null,
      user: null,
    });
    assert.deepEqual(await readErrors(await server.api("/token/nope/"), 404), [
      "token: no such token",
    ]);
    assert.deepEqual(
      await readErrors(
        await minter.api("/token/", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ttl: -5 }),
        }),
        400,
      ),
      ["ttl: expected a whole number of seconds above 0"],
    );
    assert.deepEqual(
      await readErrors(
        await minter.api("/token/", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ publish: ["room:1", 7] }),
        }),
        400,
      ),
      ["publish[1]: expected a string"],
    );
  },
);

bothModes(
  "a join naming a channel outside the grants changes nothing",
  async ({ minter, server }) => {
    const { token } = await mint(minter, { channels: ["room:42", "user:7:*"] });
    await using client = await authenticated(server, token as string);
    assert.deepEqual(await client.request({ channels: { join: ["room:42"], leave: [] } }, 1), {
      ref: 1,
      ok: true,
    });
    assert.deepEqual(
      await client.request(
        { channels: { join: ["user:7:inbox", "room:43"], leave: ["room:42"] } },
        2,
      ),
      { ref: 2, error: "channels.join[1]: not permitted by this token" },
    );
    const dump = await (await server.api("/debug/recipient-dump")).text();
    assert.ok(dump.includes("\t - room:42: 1\n") && !dump.includes("user:7:inbox"), dump);
    const { token: none } = await mint(minter, { channels: [] });
    await using denied = await authenticated(server, none as string);
    assert.deepEqual(await denied.request({ channels: { join: ["news"], leave: [] } }), {
      ref: 1,
      error: "channels.join[0]: not permitted by this token",
    });
  },
);

bothModes(
  "a token's expiry closes its live connections with 4004, on time",
  async ({ minter, server }) => {
    const { token, expires_at: expiresAt } = await mint(minter, { ttl: 1 });
    await using client = await authenticated(server, token as string);
    const close = await withTimeout(client.closed, "the expiry close", 3_000);
    assert.deepEqual(close, { code: 4004, reason: "token expired" });
    const late = Date.now() - (expiresAt as number) * 1000;
    assert.ok(late >= 0 && late < 1000, `closed ${late} ms after the expiry`);
    await using again = await TestClient.connect(server.wsUrl);
    assert.deepEqual(await again.request({ access_token: token }), {
      ref: 1,
      error: "access_token: unknown token",
    });
  },
);

bothModes(
  "re-authenticating before expiry keeps the connection; a narrower token leaves channels",
  async ({ minter, server }) => {
    const { token: short } = await mint(minter, { ttl: 1 });
    const { token: narrow } = await mint(minter, { channels: ["keep*"] });
    await using client = await authenticated(server, short as string);
    await client.request({ channels: { join: ["keep-me", "drop-me"], leave: [] } });
    assert.deepEqual(await client.request({ access_token: narrow }, 2), { ref: 2, ok: true });
    const dump = await (await server.api("/debug/recipient-dump")).text();
    assert.ok(dump.includes("\t - keep-me: 1\n") && !dump.includes("drop-me"), dump);
    // Past the first token's expiry, still open: a broadcast comes through.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const response = await minter.api("/broadcast/keep-me/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payload: "still here" }),
    });
    assert.deepEqual((await readJson(response, 200)).value, { recipients: 1 });
    assert.deepEqual(await client.next(), { message: "still here", channel: "keep-me" });
  },
);

bothModes(
  "GET /presence/{channel}/ counts connections and lists distinct users",
  async ({ minter, server }) => {
    const empty = await readJson(await server.api("/presence/room/"), 200);
    assert.deepEqual(empty.value, { connections: 0, users: [] });
    const { token: seven } = await mint(minter, { user: "7" });
    const { token: nine } = await mint(minter, { user: "9" });
    const { token: nobody } = await mint(minter, {});
    const clients: TestClient[] = [];
    try {
      // Users 7 (twice, on both servers), 9, and a token without a user.
      for (
        const [node, token] of [[server, seven], [minter, seven], [server, nine], [
          minter,
          nobody,
        ]] as const
      ) {
        const client = await authenticated(node, token as string);
        clients.push(client);
        assert.deepEqual(await client.request({ channels: { join: ["room"], leave: [] } }, 1), {
          ref: 1,
          ok: true,
        });
      }
      for (const node of [minter, server]) {
        const { value } = await readJson(await node.api("/presence/room/"), 200);
        const { connections, users } = value as { connections: number; users: string[] };
        assert.equal(connections, 4);
        assert.deepEqual([...users].sort(), ["7", "9"]);
      }
    } finally {
      for (const client of clients) await client[Symbol.asyncDispose]();
    }
  },
);

Deno.test("cluster: a token whose grant is missing in Redis is refused, not opened", async () => {
  await using redis = await startRedis();
  await using a = await startNode(redis.url, "a");
  const { token } = await mint(a, { channels: ["room"] });
  await redis.cli("DEL", "boreas:{tokens}:grants");
  await using client = await TestClient.connect(a.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }), {
    ref: 1,
    error: "access_token: unknown token",
  });
});
