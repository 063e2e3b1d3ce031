/**
 * Clients' publications on real servers, standalone and across two cluster nodes: who may
 * publish (grants, joins, --client-publish), what subscribers receive (the publisher's user,
 * never the publisher itself), the limits, and the counts.
 */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { assertNothingReceived, readJson } from "./integration_helpers.ts";
import { authenticated, bothModes, mint } from "./modes.ts";

/** A client of `server` authenticated with a token minted on `minter` from `grant`, in
 * `channels`. */
async function member(
  { minter, server }: { minter: TestServer; server: TestServer },
  grant: Record<string, unknown>,
  channels: string[],
): Promise<TestClient> {
  const { token } = await mint(minter, grant);
  const client = await authenticated(server, token as string);
  // With history on, the reply carries the channels' positions too.
  const joined = await client.request({ channels: { join: channels, leave: [] } }, "join");
  assert.equal((joined as { ok?: boolean }).ok, true, JSON.stringify(joined));
  return client;
}

function publish(client: TestClient, channel: string, payload: unknown, ref: number) {
  return client.request({ publish: { channel, payload } }, ref);
}

bothModes("a publication reaches the room with its user, and not its publisher", async (setup) => {
  const room = ["room:1"];
  await using alice = await member(setup, { user: "alice", publish: ["room:*"] }, room);
  await using bob = await member(setup, { user: "bob" }, room);
  await using onMinter = await member({ ...setup, server: setup.minter }, {}, room);
  assert.deepEqual(await publish(alice, "room:1", { text: "hi" }, 7), { ref: 7, ok: true });
  const frame = { message: { text: "hi" }, channel: "room:1", user: "alice" };
  assert.deepEqual(await bob.next("bob's frame"), frame);
  assert.deepEqual(await onMinter.next("the other node's frame"), frame);
  await assertNothingReceived(alice);
});

bothModes("a token without a user publishes frames without user", async (setup) => {
  await using anon = await member(setup, { publish: ["news"] }, ["news"]);
  await using reader = await member(setup, {}, ["news"]);
  assert.deepEqual(await publish(anon, "news", 12.5, 1), { ref: 1, ok: true });
  assert.deepEqual(await reader.next(), { message: 12.5, channel: "news" });
});

bothModes(
  "a publication its grant or its joins do not allow is refused, and sent nowhere",
  async (setup) => {
    await using reader = await member(setup, {}, ["room:1", "room:2"]);
    await using plain = await member(setup, { user: "p" }, ["room:1"]);
    await using narrow = await member(setup, { publish: ["room:2"] }, ["room:1"]);
    const refusals: Array<[TestClient, string, string]> = [
      [plain, "room:1", "publish: not permitted by this token"],
      [narrow, "room:1", "publish: not permitted by this token"],
      [narrow, "room:2", "publish: join the channel first"],
    ];
    for (const [i, [client, channel, error]] of refusals.entries()) {
      assert.deepEqual(await publish(client, channel, "x", i), { ref: i, error });
    }
    await using anonymous = await TestClient.connect(setup.server.wsUrl);
    assert.deepEqual(await publish(anonymous, "room:1", "x", 9), {
      ref: 9,
      error: "publish: authenticate first",
    });
    await assertNothingReceived(reader);
  },
);

bothModes("a payload over --max-publish-bytes is refused", async (setup) => {
  await using alice = await member(setup, { publish: ["*"] }, ["room"]);
  await using reader = await member(setup, {}, ["room"]);
  assert.deepEqual(await publish(alice, "room", "x".repeat(98), 1), { ref: 1, ok: true });
  assert.deepEqual(await reader.next(), { message: "x".repeat(98), channel: "room" });
  assert.deepEqual(await publish(alice, "room", "x".repeat(99), 2), {
    ref: 2,
    error: "publish: payload of 101 bytes, more than 100",
  });
  assert.deepEqual(await publish(alice, "room", null, 3), {
    ref: 3,
    error: "publish.payload: expected any JSON value but null",
  });
  await assertNothingReceived(reader);
}, { maxPublishBytes: 100 });

bothModes("publications are counted apart from API broadcasts", async (setup) => {
  await using alice = await member(setup, { publish: ["*"] }, ["room"]);
  for (let i = 0; i < 3; i++) await publish(alice, "room", i, i);
  const { value } = await readJson(await setup.server.api("/stats"), 200);
  const stats = value as { client_publications: number; messages_published: number };
  assert.deepEqual([stats.client_publications, stats.messages_published], [3, 0]);
  const metrics = await (await setup.server.api("/metrics")).text();
  assert.match(metrics, /^boreas_client_publications_total 3$/m);
});

Deno.test("with --no-require-auth, --client-publish names the channels anyone may publish to", async () => {
  await using server = await startTestServer({ requireAuth: false, clientPublish: ["lobby*"] });
  await using alice = await TestClient.connect(server.wsUrl);
  await using bob = await TestClient.connect(server.wsUrl);
  for (const client of [alice, bob]) {
    assert.deepEqual(await client.request({ channels: { join: ["lobby", "ops"], leave: [] } }), {
      ref: 1,
      ok: true,
    });
  }
  assert.deepEqual(await publish(alice, "lobby", "hello", 2), { ref: 2, ok: true });
  assert.deepEqual(await bob.next(), { message: "hello", channel: "lobby" });
  assert.deepEqual(await publish(alice, "ops", "no", 3), {
    ref: 3,
    error: "publish: not permitted by this token",
  });
  // A token that grants publishing still does, on top of --client-publish.
  await using carol = await authenticated(
    server,
    (await mint(server, { publish: ["ops"] })).token as string,
  );
  assert.deepEqual(await carol.request({ channels: { join: ["ops"], leave: [] } }, 4), {
    ref: 4,
    ok: true,
  });
  assert.deepEqual(await publish(carol, "ops", "yes", 5), { ref: 5, ok: true });
  assert.deepEqual(await bob.next(), { message: "yes", channel: "ops" });
  // Alice's own "hello" never came back to her: carol's is the first frame she gets.
  assert.deepEqual(await alice.next(), { message: "yes", channel: "ops" });
  await assertNothingReceived(alice);
  await assertNothingReceived(carol);
});

bothModes(
  "with history, a publication keeps its user: replayed and read back with it",
  async (setup) => {
    const room = ["room:1"];
    await using alice = await member(setup, { user: "alice", publish: ["room:*"] }, room);
    await using bob = await member(setup, { user: "bob" }, room);
    const reply = await publish(alice, "room:1", { text: "hi" }, 7) as { offset: number };
    assert.deepEqual(reply, { ref: 7, ok: true, offset: 1 });
    const frame = await bob.next("bob's frame") as { offset: number };
    assert.deepEqual(frame, {
      message: { text: "hi" },
      channel: "room:1",
      user: "alice",
      offset: 1,
    });
    await publish(alice, "room:1", "second", 8);
    assert.deepEqual(await bob.next(), {
      message: "second",
      channel: "room:1",
      user: "alice",
      offset: 2,
    });
    await assertNothingReceived(alice);
    // A late joiner resumes from offset 0 of the epoch bob was told: both, with their user.
    const { epoch } = (await readJson(await setup.server.api("/history/room:1/"), 200)).value as {
      epoch: string;
      messages: unknown[];
    };
    const { token } = await mint(setup.minter, { user: "carol" });
    await using carol = await authenticated(setup.server, token as string);
    const joined = await carol.request({
      channels: { join: ["room:1"], leave: [], since: { "room:1": { offset: 0, epoch } } },
    }, "join") as { channels: Record<string, { recovered: boolean }> };
    assert.equal(joined.channels["room:1"]!.recovered, true);
    for (const [offset, message] of [[1, { text: "hi" }], [2, "second"]] as const) {
      assert.deepEqual(await carol.next(`replay ${offset}`), {
        message,
        channel: "room:1",
        user: "alice",
        offset,
      });
    }
    const history = (await readJson(await setup.server.api("/history/room:1/"), 200)).value as {
      messages: unknown[];
    };
    assert.deepEqual(history.messages, [
      { offset: 1, message: { text: "hi" }, user: "alice" },
      { offset: 2, message: "second", user: "alice" },
    ]);
  },
  { historySize: 10 },
);

bothModes("a JWT's publish claim lets it publish, under its sub", async (setup) => {
  const secret = new TextEncoder().encode("jwt-publish-secret");
  const token = await new SignJWT({ channels: ["room:*"], publish: ["room:*"] })
    .setProtectedHeader({ alg: "HS256" }).setSubject("dora").setExpirationTime("1h").sign(secret);
  await using dora = await authenticated(setup.server, token);
  assert.deepEqual(await dora.request({ channels: { join: ["room:1"], leave: [] } }, "join"), {
    ref: "join",
    ok: true,
  });
  await using reader = await member(setup, {}, ["room:1"]);
  assert.deepEqual(await publish(dora, "room:1", "from a JWT", 1), { ref: 1, ok: true });
  assert.deepEqual(await reader.next(), {
    message: "from a JWT",
    channel: "room:1",
    user: "dora",
  });
}, { jwtSecret: "jwt-publish-secret" });

Deno.test("publications count against --max-client-messages-per-second like every frame", async () => {
  await using server = await startTestServer({ maxClientMessagesPerSecond: 2 });
  // Authenticating and joining take the whole bucket; a refill needs 500 ms.
  await using alice = await member({ minter: server, server }, { publish: ["room"] }, ["room"]);
  for (const i of [1, 2]) alice.send({ publish: { channel: "room", payload: i } });
  assert.deepEqual(await alice.closed, { code: 1008, reason: "too many messages" });
});
