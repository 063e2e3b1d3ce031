/**
 * Channel history on a real standalone server: offsets in broadcasts and frames, the join
 * reply's positions, the replay after `since`, `recovered: false` when it cannot resume, and
 * `GET /history/`.
 */

import assert from "node:assert/strict";
import { startTestServer, TestClient, type TestServer } from "./helpers.ts";
import { readErrors, readJson } from "./integration_helpers.ts";

async function publish(server: TestServer, channel: string, payload: unknown): Promise<unknown> {
  const response = await server.api(`/broadcast/${channel}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload }),
  });
  return (await readJson(response, 200)).value;
}

async function authenticated(server: TestServer): Promise<TestClient> {
  const client = await TestClient.connect(server.wsUrl);
  assert.deepEqual(await client.request({ access_token: await server.mintToken() }, "auth"), {
    ref: "auth",
    ok: true,
  });
  return client;
}

Deno.test("with history on, a broadcast answers its offset and epoch and frames carry the offset", async () => {
  await using server = await startTestServer({ historySize: 10 });
  await using client = await authenticated(server);
  const reply = await client.request({ channels: { join: ["news"], leave: [] } }) as {
    channels: { news: { offset: number; epoch: string } };
  };
  const { epoch } = reply.channels.news;
  assert.deepEqual(reply, { ref: 1, ok: true, channels: { news: { offset: 0, epoch } } });
  assert.deepEqual(await publish(server, "news", { n: 1 }), { recipients: 1, offset: 1, epoch });
  assert.deepEqual(await client.next(), { message: { n: 1 }, channel: "news", offset: 1 });
  const dry = await server.api("/broadcast/news/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ payload: 1, dryrun: true }),
  });
  assert.deepEqual((await readJson(dry, 200)).value, { recipients: 1 });
  assert.deepEqual(await publish(server, "news", 2), { recipients: 1, offset: 2, epoch });
});

Deno.test("a join with since replays what was missed, in order, before the live messages", async () => {
  await using server = await startTestServer({ historySize: 100 });
  for (let n = 1; n <= 5; n++) await publish(server, "news", n);
  const { epoch } = await publish(server, "news", 6) as { epoch: string };
  await using client = await authenticated(server);
  client.send({
    channels: { join: ["news", "sport"], leave: [], since: { news: { offset: 3, epoch } } },
    ref: 7,
  });
  const reply = await client.next("the join reply") as {
    channels: { sport: { epoch: string } };
  };
  assert.deepEqual(reply, {
    ref: 7,
    ok: true,
    channels: {
      news: { recovered: true, offset: 6, epoch },
      sport: { offset: 0, epoch: reply.channels.sport.epoch },
    },
  });
  for (const n of [4, 5, 6]) {
    assert.deepEqual(await client.next(`replayed ${n}`), {
      message: n,
      channel: "news",
      offset: n,
    });
  }
  await publish(server, "news", 7);
  assert.deepEqual(await client.next(), { message: 7, channel: "news", offset: 7 });
});

Deno.test("a join whose position cannot be resumed says recovered false and replays nothing", async (t) => {
  await using server = await startTestServer({ historySize: 3 });
  for (let n = 1; n <= 6; n++) await publish(server, "news", n);
  const { epoch } = await publish(server, "news", 7) as { epoch: string };
  const cases: Array<[string, { offset: number; epoch: string }]> = [
    ["trimmed by --history-size", { offset: 2, epoch }],
    ["another epoch", { offset: 6, epoch: "not-this-one" }],
    ["ahead of the channel", { offset: 99, epoch }],
  ];
  let top = 7;
  for (const [name, since] of cases) {
    await t.step(name, async () => {
      await using client = await authenticated(server);
      const reply = await client.request({
        channels: { join: ["news"], leave: [], since: { news: since } },
      });
      assert.deepEqual(reply, {
        ref: 1,
        ok: true,
        channels: { news: { recovered: false, offset: top, epoch } },
      });
      const live = await publish(server, "news", "live") as { offset: number };
      top = live.offset;
      assert.deepEqual(await client.next(), { message: "live", channel: "news", offset: top });
    });
  }
});

Deno.test("after a restart the epoch changes, so an old position is not recovered", async () => {
  let position: { offset: number; epoch: string };
  {
    await using before = await startTestServer({ historySize: 10 });
    position = await publish(before, "news", 1) as { offset: number; epoch: string };
  }
  await using after = await startTestServer({ historySize: 10 });
  const { epoch } = await publish(after, "news", "new") as { epoch: string };
  assert.notEqual(epoch, position.epoch);
  await using client = await authenticated(after);
  const reply = await client.request({
    channels: { join: ["news"], leave: [], since: { news: position } },
  });
  assert.deepEqual(reply, {
    ref: 1,
    ok: true,
    channels: { news: { recovered: false, offset: 1, epoch } },
  });
});

Deno.test("messages published during a join are neither lost nor sent twice", async () => {
  await using server = await startTestServer({ historySize: 1000 });
  const { epoch } = await publish(server, "news", 0) as { epoch: string };
  await using client = await authenticated(server);
  // Publishing runs on while the join is answered; every offset must arrive once, in order.
  let publishing = true;
  const publisher = (async () => {
    let published = 0;
    while (publishing && published < 300) {
      await publish(server, "news", ++published);
    }
    return published;
  })();
  client.send({ channels: { join: ["news"], leave: [], since: { news: { offset: 0, epoch } } } });
  const first = await client.next("the first replayed or live message") as { offset: number };
  assert.equal(first.offset, 1);
  publishing = false;
  const last = await publisher;
  // Offset 1 is the message published before; the publisher's n-th is offset n + 1.
  let expected = 2;
  while (expected <= last + 1) {
    const frame = await client.next(`offset ${expected}`) as { offset: number };
    assert.equal(frame.offset, expected);
    expected++;
  }
  assert.equal(client.pending.length, 0);
});

Deno.test("a quick second join with since replays every message after it, once", async () => {
  await using server = await startTestServer({ historySize: 10 });
  await publish(server, "news", 1);
  const { epoch } = await publish(server, "news", 2) as { epoch: string };
  await using client = await authenticated(server);
  const first = await client.request({ channels: { join: ["news"], leave: [] } });
  assert.deepEqual(first, { ref: 1, ok: true, channels: { news: { offset: 2, epoch } } });
  const again = await client.request({
    channels: { join: ["news"], leave: [], since: { news: { offset: 0, epoch } } },
  }, 2);
  assert.deepEqual(again, {
    ref: 2,
    ok: true,
    channels: { news: { recovered: true, offset: 2, epoch } },
  });
  assert.deepEqual(await client.next("replayed 1"), { message: 1, channel: "news", offset: 1 });
  assert.deepEqual(await client.next("replayed 2"), { message: 2, channel: "news", offset: 2 });
  await publish(server, "news", 3);
  assert.deepEqual(await client.next("live 3"), { message: 3, channel: "news", offset: 3 });
  assert.equal(client.pending.length, 0);
});

Deno.test("a since that is malformed or names a channel not joined is an invalid message", async () => {
  await using server = await startTestServer({ historySize: 10 });
  await using client = await authenticated(server);
  const errors: Array<[unknown, string]> = [
    [
      { other: { offset: 1, epoch: "e" } },
      "channels.since.other: expected a channel of channels.join",
    ],
    [
      { news: { offset: -1, epoch: "e" } },
      "channels.since.news.offset: expected a whole number of at least 0",
    ],
    [
      { news: { offset: 1, epoch: "" } },
      "channels.since.news.epoch: expected a string of 1-64 characters",
    ],
    [{ news: 5 }, 'channels.since.news: expected {"offset": N, "epoch": "E"}'],
    [[], "channels.since: expected an object of positions by channel"],
  ];
  for (const [since, error] of errors) {
    assert.deepEqual(
      await client.request({ channels: { join: ["news"], leave: [], since } }, "bad"),
      { ref: "bad", error },
    );
  }
  const dump = await (await server.api("/debug/recipient-dump")).text();
  assert.ok(!dump.includes("news"), dump);
});

Deno.test("GET /history/{channel}/ lists the kept messages after since, oldest first", async () => {
  await using server = await startTestServer({ historySize: 5 });
  for (let n = 1; n <= 6; n++) await publish(server, "news", { n });
  const { value } = await readJson(await server.api("/history/news/?since=3&limit=2"), 200);
  const { epoch } = value as { epoch: string };
  assert.deepEqual(value, {
    epoch,
    offset: 6,
    messages: [{ offset: 4, message: { n: 4 } }, { offset: 5, message: { n: 5 } }],
  });
  const all = (await readJson(await server.api("/history/news/"), 200)).value as {
    messages: Array<{ offset: number }>;
  };
  assert.deepEqual(all.messages.map((m) => m.offset), [2, 3, 4, 5, 6]);
  for (const query of ["limit=1001", "limit=0", "since=-1", "since=x"]) {
    const [error] = await readErrors(await server.api(`/history/news/?${query}`), 400);
    assert.match(error!, /^(limit|since): expected a whole number/);
  }
});

Deno.test("GET /history/{channel}/ answers 404 naming --history-size when history is off", async () => {
  await using server = await startTestServer();
  assert.deepEqual(await readErrors(await server.api("/history/news/"), 404), [
    "history: off on this server (start it with --history-size N)",
  ]);
});

Deno.test("with history off, broadcasts, frames and join replies are as they always were", async () => {
  await using server = await startTestServer();
  await using client = await authenticated(server);
  assert.deepEqual(await client.request({ channels: { join: ["news"], leave: [] } }), {
    ref: 1,
    ok: true,
  });
  assert.deepEqual(await publish(server, "news", 1), { recipients: 1 });
  assert.deepEqual(await client.next(), { message: 1, channel: "news" });
});
