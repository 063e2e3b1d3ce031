/**
 * `POST /broadcast/` on real servers, standalone and on two cluster nodes, with history off and
 * on: the recipients and positions by channel, one frame per channel, dry runs, repeats, the
 * limit of 100 channels, bad bodies, the API key, and one Redis round trip per call.
 */

import assert from "node:assert/strict";
import type { Config } from "../src/config.ts";
import { startNode } from "./cluster_helpers.ts";
import { TestClient, type TestServer } from "./helpers.ts";
import { assertNothingReceived, readErrors, readJson } from "./integration_helpers.ts";
import { bothModes, type Setup } from "./modes.ts";
import { startRedis } from "./redis_server.ts";
import { startProxy } from "./tcp_proxy.ts";

/** `POST /broadcast/` of `body` (sent as JSON) through `server`. */
function broadcastMany(
  server: TestServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return server.api("/broadcast/", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** A client of `server`, authenticated with `token` and in `channels` (join answered ok,
 * positions and all, so that its node counts it everywhere). */
async function member(server: TestServer, token: string, channels: string[]): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: token }, "auth"), {
    ref: "auth",
    ok: true,
  });
  const joined = await client.request({ channels: { join: channels, leave: [] } }, "join");
  assert.equal((joined as { ok?: unknown }).ok, true, JSON.stringify(joined));
  return client;
}

/** The frame a subscriber gets for `message` on `channel`, at `offset` with history on. */
function frame(channel: string, message: unknown, offset?: number): Record<string, unknown> {
  return offset === undefined ? { message, channel } : { message, channel, offset };
}

const MODES: ReadonlyArray<[label: string, overrides: Partial<Config>]> = [
  ["", {}],
  [", history on", { historySize: 100 }],
];

for (const [label, overrides] of MODES) {
  const isKept = overrides.historySize !== undefined;

  bothModes(
    `POST /broadcast/ answers each channel's recipients, one frame per channel${label}`,
    async (
      { minter, server }: Setup,
    ) => {
      await using both = await member(server, await minter.mintToken(), ["a", "b"]);
      await using onlyA = await member(minter, await minter.mintToken(), ["a"]);
      const response = await broadcastMany(minter, {
        channels: ["a", "b", "c"],
        payload: { n: 1 },
      });
      const { text, value } = await readJson(response, 200);
      const answer = value as { recipients: unknown; positions?: Record<string, unknown> };
      assert.deepEqual(answer.recipients, { a: 2, b: 1, c: 0 });
      if (!isKept) {
        assert.equal(text, '{"recipients": {"a": 2, "b": 1, "c": 0}}');
      } else {
        // Each channel's first message: offset 1 in an epoch of its own.
        assert.deepEqual(Object.keys(answer.positions!), ["a", "b", "c"]);
        for (const position of Object.values(answer.positions!)) {
          const { offset, epoch } = position as { offset: number; epoch: string };
          assert.equal(offset, 1);
          assert.match(epoch, /^[0-9a-f]{16}$/);
        }
      }
      const offset = isKept ? 1 : undefined;
      assert.deepEqual(await both.next("a's frame"), frame("a", { n: 1 }, offset));
      assert.deepEqual(await both.next("b's frame"), frame("b", { n: 1 }, offset));
      assert.deepEqual(
        await onlyA.next("a's frame on the other node"),
        frame("a", { n: 1 }, offset),
      );
      await assertNothingReceived(both);
      await assertNothingReceived(onlyA);
      // One message published per channel, on the node that took the call.
      assert.equal(minter.metrics.messagesPublished, 3);
    },
    overrides,
  );

  bothModes(`POST /broadcast/ publishes a channel named twice once${label}`, async (
    { minter, server }: Setup,
  ) => {
    await using both = await member(server, await minter.mintToken(), ["a", "b"]);
    const response = await broadcastMany(minter, { channels: ["b", "a", "b"], payload: "x" });
    const { value } = await readJson(response, 200);
    const { recipients, positions } = value as Record<string, unknown>;
    assert.deepEqual(recipients, { a: 1, b: 1 });
    if (isKept) assert.deepEqual(Object.keys(positions as object).sort(), ["a", "b"]);
    const offset = isKept ? 1 : undefined;
    assert.deepEqual(await both.next("b's frame"), frame("b", "x", offset));
    assert.deepEqual(await both.next("a's frame"), frame("a", "x", offset));
    await assertNothingReceived(both);
    assert.equal(minter.metrics.messagesPublished, 2);
  }, overrides);

  bothModes(`a dry run of POST /broadcast/ counts and publishes nothing${label}`, async (
    { minter, server }: Setup,
  ) => {
    await using subscriber = await member(server, await minter.mintToken(), ["a"]);
    const dry = await broadcastMany(minter, { channels: ["a", "b"], payload: 1, dryrun: true });
    // No positions: a dry run uses no offset.
    assert.equal((await readJson(dry, 200)).text, '{"recipients": {"a": 1, "b": 0}}');
    await assertNothingReceived(subscriber);
    assert.equal(minter.metrics.messagesPublished, 0);
    await readJson(await broadcastMany(minter, { channels: ["a"], payload: 2 }), 200);
    assert.deepEqual(await subscriber.next(), frame("a", 2, isKept ? 1 : undefined));
  }, overrides);

  bothModes(`POST /broadcast/ takes 100 channels and refuses 101${label}`, async (
    { minter, server }: Setup,
  ) => {
    const channels = Array.from({ length: 101 }, (_, i) => `ch${i}`);
    await using subscriber = await member(server, await minter.mintToken(), [
      "ch0",
      "ch99",
      "ch100",
    ]);
    const refused = await broadcastMany(minter, { channels, payload: "all" });
    assert.deepEqual(await readErrors(refused, 400), [
      "channels: expected at most 100 names, got 101",
    ]);
    await assertNothingReceived(subscriber);
    const taken = await broadcastMany(minter, { channels: channels.slice(0, 100), payload: "all" });
    const { recipients } = (await readJson(taken, 200)).value as {
      recipients: Record<string, number>;
    };
    assert.deepEqual(Object.keys(recipients).sort(), channels.slice(0, 100).sort());
    assert.equal(Object.values(recipients).reduce((sum, n) => sum + n), 2);
    const offset = isKept ? 1 : undefined;
    assert.deepEqual(await subscriber.next(), frame("ch0", "all", offset));
    assert.deepEqual(await subscriber.next(), frame("ch99", "all", offset));
    await assertNothingReceived(subscriber);
    assert.equal(minter.metrics.messagesPublished, 100);
  }, overrides);
}

bothModes(
  "POST /broadcast/ refuses a bad body with 400 naming the field, publishing nothing",
  async (
    { minter, server },
  ) => {
    await using subscriber = await member(server, await minter.mintToken(), ["a"]);
    const cases: Array<[body: unknown, error: string]> = [
      [["a"], "body: expected a JSON object"],
      [{ payload: 1 }, "channels: expected a list of names"],
      [{ channels: "a", payload: 1 }, "channels: expected a list of names"],
      [{ channels: [], payload: 1 }, "channels: expected at least one name"],
      [{ channels: ["a", ""], payload: 1 }, "channels[1]: expected a non-empty channel name"],
      [{ channels: ["a", 7], payload: 1 }, "channels[1]: expected a channel name (a string)"],
      [
        { channels: ["a", "b", "x\u0001"], payload: 1 },
        "channels[2]: expected a channel name without control characters",
      ],
      [
        { channels: ["a", ".."], payload: 1 },
        'channels[1]: expected a channel name other than ".."',
      ],
      [{ channels: ["a"] }, "payload: expected any JSON value but null"],
      [{ channels: ["a"], payload: null }, "payload: expected any JSON value but null"],
      [{ channels: ["a"], payload: 1, dryrun: "no" }, "dryrun: expected a boolean"],
    ];
    for (const [body, error] of cases) {
      const response = await broadcastMany(minter, body);
      assert.deepEqual(await readErrors(response, 400), [error], JSON.stringify(body));
    }
    await assertNothingReceived(subscriber);
    assert.equal(minter.metrics.messagesPublished, 0);
  },
);

bothModes("POST /broadcast/ needs the API key when there is one", async ({ minter, server }) => {
  const key = { authorization: "Bearer k1" };
  const minted = await minter.api("/token/", { method: "POST", headers: key });
  const { token } = (await readJson(minted, 200)).value as { token: string };
  await using subscriber = await member(server, token, ["a"]);
  const body = { channels: ["a"], payload: "refused" };
  for (const headers of [{}, { authorization: "Bearer k2" }]) {
    const response = await broadcastMany(minter, body, headers);
    await response.body?.cancel();
    assert.equal(response.status, 401);
  }
  const response = await broadcastMany(minter, { channels: ["a"], payload: "taken" }, key);
  assert.equal((await readJson(response, 200)).text, '{"recipients": {"a": 1}}');
  // The refused calls sent nothing: the first frame is the accepted call's.
  assert.deepEqual(await subscriber.next(), frame("a", "taken"));
  assert.equal(minter.metrics.messagesPublished, 1);
}, { apiKey: ["k1"] });

for (const [label, overrides] of MODES) {
  Deno.test(`cluster: POST /broadcast/ sends 100 channels to Redis in one round trip${label}`, async () => {
    // Node a reaches Redis through a proxy that holds back every answer: each of the 100
    // channels' frames reaches node b's subscriber before node a has heard a single answer,
    // which a call that waited for one channel's answer before sending the next could not do.
    await using redis = await startRedis();
    await using proxy = startProxy(redis.port);
    await using a = await startNode(`redis://127.0.0.1:${proxy.port}`, "a", overrides);
    await using b = await startNode(redis.url, "b", overrides);
    const channels = Array.from({ length: 100 }, (_, i) => `ch${i}`);
    await using subscriber = await member(b, await b.mintToken(), channels);
    const release = proxy.holdReplies();
    const answered = broadcastMany(a, { channels, payload: "once" });
    try {
      for (const channel of channels) {
        const { channel: received } = await subscriber.next(`${channel}'s frame`) as {
          channel: string;
        };
        assert.equal(received, channel);
      }
    } finally {
      release();
    }
    const { value } = await readJson(await answered, 200);
    const { recipients } = value as { recipients: Record<string, number> };
    assert.deepEqual(Object.values(recipients), channels.map(() => 1));
  });
}
