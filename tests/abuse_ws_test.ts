/**
 * @module
 * Abuse against the live WebSocket endpoint: malformed and oversized frames, peers that break
 * the framing itself, and thousands of connections coming and going. After each, the server
 * must still serve and hold no state for closed clients.
 */

import assert from "node:assert/strict";
import { startTestServer, TestClient, type TestServer, withTimeout } from "./helpers.ts";
import { closeOf, OPCODE, RawWebSocket } from "./raw_ws.ts";
import { publish } from "./integration_helpers.ts";
import {
  assertNothingLeft,
  assertStillServing,
  deepArrays,
  deepObjects,
  DEPTH,
  MIB,
  PERMISSIVE,
  subscriber,
  UTF8,
} from "./abuse_helpers.ts";

// ---- (a) malformed frames ------------------------------------------------------------------

Deno.test("malformed frames from one connection are ignored or answered, and change nothing", async (t) => {
  await using server = await startTestServer(PERMISSIVE);
  const token = await server.mintToken();
  await using abuser = await TestClient.connect(server.wsUrl);

  await t.step("frames without a usable ref get no answer", async () => {
    const unanswered: Array<string | Uint8Array> = [
      new Uint8Array(),
      UTF8.encode(JSON.stringify({ access_token: token, ref: "binary" })),
      new Uint8Array(MIB),
      "",
      " ",
      "not json",
      "{",
      "[1,",
      '{"access_token"}',
      "\ufeff{}",
      "\ud800",
      "\u0000",
      "null",
      "true",
      "42",
      '"text"',
      "[]",
      `[${JSON.stringify({ access_token: token, ref: "in a list" })}]`,
      deepArrays(DEPTH),
      deepObjects(DEPTH),
      "[".repeat(DEPTH),
      '{"a":'.repeat(DEPTH),
      `[${"1,".repeat(MIB / 2)}`,
      `{"access_token": "${"x".repeat(MIB)}`,
      "{}",
      '{"access_token": ""}',
      '{"access_token": "not-a-token"}',
      '{"channels": null}',
      '{"channels": {"join": "news", "leave": []}}',
      '{"channels": {"join": ["news"], "leave": []}}',
      // An unusable ref cannot be echoed, so even a valid message goes unanswered.
      `{"ref": null, "access_token": "${token}"}`,
      `{"ref": "${"r".repeat(257)}", "access_token": "${token}"}`,
      `{"ref": {}, "access_token": "${token}"}`,
      `{"ref": [1], "access_token": "${token}"}`,
      `{"ref": true, "access_token": "${token}"}`,
      `{"ref": 1e999, "access_token": "${token}"}`,
    ];
    for (const frame of unanswered) abuser.socket.send(frame);
    // Replies come in order, so a reply to any frame above would arrive before this one.
    assert.deepEqual(await abuser.request({ channels: { join: [], leave: [] } }, "probe"), {
      ref: "probe",
      error: "channels: authenticate first",
    });
    assert.deepEqual(server.hub.snapshot(), { anonymous: 1, tokens: [], channels: [] });
  });

  await t.step("wrong shapes with a ref are answered with what is wrong", async () => {
    const manyNames = Array.from({ length: DEPTH }, (_, i) => `c${i}`);
    const longRef = "s".repeat(256);
    const answered: Array<[ref: string | number, frame: string, error: string]> = [
      [1, '{"ref": 1, "access_token": ""}', "access_token: expected a non-empty string"],
      [
        2,
        `{"ref": 2, "access_token": ${deepObjects(DEPTH)}}`,
        "access_token: expected a non-empty string",
      ],
      [3, '{"ref": 3, "channels": []}', "channels: expected an object with join and leave lists"],
      [4, '{"ref": 4}', "expected an access_token, channels or publish message"],
      [
        5,
        '{"ref": 5, "access_token": "a", "channels": {"join": [], "leave": []}}',
        "expected one of access_token, channels or publish, not access_token and channels",
      ],
      [
        6,
        `{"ref": 6, "channels": {"join": ${deepArrays(DEPTH)}, "leave": []}}`,
        "channels.join[0]: expected a string",
      ],
      [
        7,
        '{"ref": 7, "channels": {"join": ["ok", "bad\\u0000"], "leave": []}}',
        "channels.join[1]: expected a channel name without control characters",
      ],
      [
        8,
        `{"ref": 8, "channels": {"join": [], "leave": ["${"x".repeat(256)}"]}}`,
        "channels.leave[0]: expected a channel name of at most 255 UTF-8 bytes, got 256",
      ],
      [9, '{"ref": 9, "access_token": "not-a-token"}', "access_token: unknown token"],
      [
        longRef,
        `{"ref": "${longRef}", "access_token": ""}`,
        "access_token: expected a non-empty string",
      ],
      [1e308, '{"ref": 1e308, "access_token": ""}', "access_token: expected a non-empty string"],
      [
        10,
        JSON.stringify({ ref: 10, channels: { join: manyNames, leave: [] } }),
        "channels: authenticate first",
      ],
      [
        11,
        JSON.stringify({ ref: 11, access_token: "x".repeat(MIB) }),
        "access_token: unknown token",
      ],
    ];
    for (const [, frame] of answered) abuser.send(frame);
    for (const [ref, , error] of answered) {
      assert.deepEqual(await abuser.next(`the reply to ref ${ref}`), { ref, error });
    }
    assert.deepEqual(server.hub.snapshot(), { anonymous: 1, tokens: [], channels: [] });
  });

  await t.step("join lists past the channel limit change nothing", async () => {
    assert.deepEqual(await abuser.request({ access_token: token }, "auth"), {
      ref: "auth",
      ok: true,
    });
    const names = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    const huge = { channels: { join: names(DEPTH), leave: [] } };
    assert.deepEqual(await abuser.request(huge, "huge"), {
      ref: "huge",
      error: "channels.join: at most 1000 channels per connection",
    });
    assert.equal(server.hub.channelCount, 0);
    const full = { channels: { join: names(1000), leave: [] } };
    assert.deepEqual(await abuser.request(full, "full"), { ref: "full", ok: true });
    assert.equal(server.hub.channelCount, 1000);
    const empty = { channels: { join: [], leave: names(1000) } };
    assert.deepEqual(await abuser.request(empty, "empty"), { ref: "empty", ok: true });
    assert.equal(server.hub.channelCount, 0);
  });

  await t.step("a valid 1 MiB frame is applied", async () => {
    const big = { channels: { join: ["news"], leave: [] }, padding: "x".repeat(MIB) };
    assert.deepEqual(await abuser.request(big, "big"), { ref: "big", ok: true });
    assert.equal(server.hub.memberCount("news"), 1);
  });

  await t.step("the abuser and a new client both receive a broadcast", async () => {
    await assertStillServing(server, [abuser]);
    await abuser[Symbol.asyncDispose]();
    await assertNothingLeft(server);
  });
});

Deno.test("a frame over maxFrameBytes closes only its connection, with 1009", async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using bystander = await subscriber(server, token, ["news"]);
  for (const frame of ["x".repeat(MIB), new Uint8Array(MIB)]) {
    await using abuser = await subscriber(server, token, ["news"]);
    abuser.socket.send(frame);
    assert.deepEqual(await withTimeout(abuser.closed, "the close for a large frame"), {
      code: 1009,
      reason: "frame too large",
    });
    await server.untilMembers("news", 1);
  }
  await assertStillServing(server, [bystander]);
  await bystander[Symbol.asyncDispose]();
  await assertNothingLeft(server);
});

// ---- (a) broken framing, from a raw peer ----------------------------------------------------

/** One frame as raw bytes, masked with a fixed key unless `isMasked` is false. `head` is the
 * first byte (FIN, RSV, opcode); the length is encoded from `payload` unless `length` says
 * otherwise. */
function rawFrame(
  head: number,
  payload: Uint8Array,
  { isMasked = true, length }: { isMasked?: boolean; length?: number[] } = {},
): Uint8Array {
  const mask = [0x12, 0x34, 0x56, 0x78];
  const size = length ??
    (payload.length < 126 ? [payload.length] : [126, payload.length >> 8, payload.length & 0xff]);
  const masked = isMasked ? payload.map((byte, i) => byte ^ mask[i % 4]!) : payload;
  return Uint8Array.from([
    head,
    (isMasked ? 0x80 : 0) | size[0]!,
    ...size.slice(1),
    ...(isMasked ? mask : []),
    ...masked,
  ]);
}

const FIN = 0x80;
const RSV1 = 0x40;
const CONTINUATION = 0x0;

/** Byte sequences that break RFC 6455; the server must drop the connection for each. */
const BROKEN_FRAMES: Record<string, Uint8Array> = {
  "invalid UTF-8 in a text frame": rawFrame(FIN | OPCODE.text, Uint8Array.from([0x7b, 0xc3, 0x28])),
  "a text frame ending inside a UTF-8 sequence": rawFrame(
    FIN | OPCODE.text,
    Uint8Array.from([0x61, 0xe2, 0x82]),
  ),
  "invalid UTF-8 split across fragments": Uint8Array.from([
    ...rawFrame(OPCODE.text, Uint8Array.from([0xe2])),
    ...rawFrame(FIN | CONTINUATION, Uint8Array.from([0x28, 0x61])),
  ]),
  "a UTF-8 encoded surrogate": rawFrame(FIN | OPCODE.text, Uint8Array.from([0xed, 0xa0, 0x80])),
  "a reserved opcode": rawFrame(FIN | 0x3, UTF8.encode("{}")),
  "RSV1 without an extension": rawFrame(FIN | RSV1 | OPCODE.text, UTF8.encode("{}")),
  "a continuation with nothing to continue": rawFrame(FIN | CONTINUATION, UTF8.encode("{}")),
  "a fragmented ping": rawFrame(OPCODE.ping, new Uint8Array()),
  "a ping over 125 bytes": rawFrame(FIN | OPCODE.ping, new Uint8Array(200)),
  "a length of 2^63-1 bytes": rawFrame(FIN | OPCODE.text, new Uint8Array(), {
    length: [127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  }),
  "a close with an invalid code": rawFrame(FIN | OPCODE.close, Uint8Array.from([0x03, 0xe7])),
  "a close with an invalid UTF-8 reason": rawFrame(
    FIN | OPCODE.close,
    Uint8Array.from([0x03, 0xe8, 0xff, 0xfe]),
  ),
};

/** Reads until the server closes: a close frame, end of stream or a reset. Returns which. */
async function untilServerCloses(socket: RawWebSocket): Promise<string> {
  try {
    while (true) {
      const frame = await socket.nextFrame("the server to drop the connection");
      if (frame.opcode === OPCODE.close) return `close ${closeOf(frame).code}`;
    }
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return "reset";
    if (String(error).includes("closed the TCP connection")) return "end of stream";
    throw error;
  }
}

const JOIN_NEWS = { channels: { join: ["news"], leave: [] } };

/** A raw peer authenticated with `token` and joined to `news`, acknowledged. */
async function rawSubscriber(server: TestServer, token: string): Promise<RawWebSocket> {
  const socket = await RawWebSocket.connect(server.wsUrl);
  for (const [message, ref] of [[{ access_token: token }, "auth"], [JOIN_NEWS, "join"]] as const) {
    await socket.send(JSON.stringify({ ...message, ref }));
    const reply = await socket.nextFrame(`the reply to ${ref}`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(reply.payload)), { ref, ok: true });
  }
  return socket;
}

Deno.test("a raw peer breaking WebSocket framing is dropped and leaves nothing behind", async (t) => {
  await using server = await startTestServer(PERMISSIVE);
  const token = await server.mintToken();
  await using bystander = await subscriber(server, token, ["news"]);
  for (const [name, bytes] of Object.entries(BROKEN_FRAMES)) {
    await t.step(name, async () => {
      await using socket = await rawSubscriber(server, token);
      await server.untilMembers("news", 2);
      await socket.write(bytes);
      const outcome = await untilServerCloses(socket);
      assert.match(outcome, /^(close 1002|close 1007|end of stream|reset)$/);
      await server.untilMembers("news", 1);
      await server.untilConnections(1);
    });
  }

  await t.step("an unmasked frame is answered or dropped, and nothing is left", async () => {
    // RFC 6455 says a server must drop an unmasked client frame; Deno 2.9 accepts it.
    await using socket = await rawSubscriber(server, token);
    const payload = UTF8.encode('{"ref": "unmasked", "access_token": "not-a-token"}');
    await socket.write(rawFrame(FIN | OPCODE.text, payload, { isMasked: false }));
    try {
      const frame = await socket.nextFrame("an answer to the unmasked frame, or a close");
      if (frame.opcode !== OPCODE.close) {
        assert.deepEqual(JSON.parse(new TextDecoder().decode(frame.payload)), {
          ref: "unmasked",
          error: "access_token: unknown token",
        });
      }
    } catch (error) {
      if (!String(error).includes("closed the TCP connection")) throw error;
    }
    socket.close();
    await server.untilConnections(1);
  });

  await t.step("the bystander and a new client still receive broadcasts", async () => {
    await assertStillServing(server, [bystander]);
    await bystander[Symbol.asyncDispose]();
    await assertNothingLeft(server);
  });
});

// ---- (c) many connections --------------------------------------------------------------------

const CONNECTIONS = 2_000;
const BATCH = 100;

Deno.test(`${CONNECTIONS} connections opening and closing in batches leave nothing behind`, async () => {
  await using server = await startTestServer();
  const token = await server.mintToken();
  await using bystander = await subscriber(server, token, ["news"]);
  for (let opened = 0; opened < CONNECTIONS; opened += BATCH) {
    const clients = await Promise.all(
      Array.from({ length: BATCH }, () => TestClient.connect(server.wsUrl)),
    );
    try {
      await server.untilConnections(BATCH + 1);
      // Half authenticate and join; the other half stay anonymous.
      await Promise.all(
        clients.slice(0, BATCH / 2).map(async (client, i) => {
          assert.deepEqual(await client.request({ access_token: token }, i), { ref: i, ok: true });
          const join = { channels: { join: ["news", `batch-${opened}`], leave: [] } };
          assert.deepEqual(await client.request(join, i), { ref: i, ok: true });
        }),
      );
      assert.equal(server.hub.memberCount("news"), BATCH / 2 + 1);
      assert.equal(server.hub.anonymousCount, BATCH / 2);
    } finally {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
    }
    await server.untilConnections(1);
    assert.equal(server.hub.memberCount("news"), 1);
    assert.equal(server.hub.channelCount, 1, `no channel of batch ${opened} is left`);
  }
  assert.equal(await publish(server, "news", { after: CONNECTIONS }), 1);
  assert.deepEqual(await bystander.next("the broadcast"), {
    message: { after: CONNECTIONS },
    channel: "news",
  });
  await bystander[Symbol.asyncDispose]();
  await assertNothingLeft(server);
});
