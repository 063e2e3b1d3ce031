import assert from "node:assert/strict";
import fc from "fast-check";
import { memberText } from "../src/protocol/json_member.ts";
import {
  newSocketId,
  parsePusherMessage,
  PUSHER_PING,
  PUSHER_PONG,
  renderConnectionEstablished,
  renderMemberAdded,
  renderMemberRemoved,
  renderPusherError,
  renderPusherEvent,
  renderSigninSuccess,
  renderSubscriptionError,
  renderSubscriptionSucceeded,
} from "../src/protocol/pusher.ts";

Deno.test("memberText gives a member's value exactly as written", () => {
  const text = '{ "event" : "client-x", "data" : 12.50 , "channel":"c"}';
  assert.equal(memberText(text, "data"), "12.50");
  assert.equal(memberText(text, "channel"), '"c"');
  assert.equal(memberText(text, "missing"), undefined);
  assert.equal(memberText('{"data":"a \\"}\\" \\u00e9"}', "data"), '"a \\"}\\" \\u00e9"');
  assert.equal(memberText('{"data":{"x":["}",{"y":"]"}]},"z":1}', "data"), '{"x":["}",{"y":"]"}]}');
  assert.equal(memberText('{"d\\u0061ta":1,"data":2}', "data"), "2");
  assert.equal(memberText("{}", "data"), undefined);
  assert.equal(memberText('{"data":null}', "data"), "null");
});

Deno.test("memberText agrees with JSON.parse on any object", () => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.string(), (object, key) => {
      const value = Object.hasOwn(object, key) ? object[key] : 0;
      const text = JSON.stringify({ ...object, [key]: value }, null, 1);
      const found = memberText(text, key);
      assert.ok(found !== undefined);
      assert.deepEqual(JSON.parse(found), JSON.parse(text)[key]);
    }),
  );
});

Deno.test("parses what pusher-js sends", () => {
  assert.deepEqual(parsePusherMessage('{"event":"pusher:ping","data":{}}'), {
    ok: true,
    message: { type: "ping" },
  });
  assert.deepEqual(parsePusherMessage('{"event":"pusher:pong","data":{}}'), {
    ok: true,
    message: { type: "pong" },
  });
  assert.deepEqual(
    parsePusherMessage('{"event":"pusher:subscribe","data":{"auth":"","channel":"news"}}'),
    { ok: true, message: { type: "subscribe", channel: "news", auth: "" } },
  );
  assert.deepEqual(
    parsePusherMessage(JSON.stringify({
      event: "pusher:subscribe",
      data: { auth: "k:sig", channel: "presence-room", "channel_data": '{"user_id":7}' },
    })),
    {
      ok: true,
      message: {
        type: "subscribe",
        channel: "presence-room",
        auth: "k:sig",
        channelData: '{"user_id":7}',
      },
    },
  );
  // Some clients send data as a JSON string.
  assert.deepEqual(
    parsePusherMessage('{"event":"pusher:unsubscribe","data":"{\\"channel\\":\\"news\\"}"}'),
    { ok: true, message: { type: "unsubscribe", channel: "news" } },
  );
  assert.deepEqual(
    parsePusherMessage(
      '{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\\"id\\":\\"1\\"}"}}',
    ),
    { ok: true, message: { type: "signin", auth: "k:s", userData: '{"id":"1"}' } },
  );
  assert.deepEqual(
    parsePusherMessage('{"event":"client-typing","data":{"amount":12.50},"channel":"private-a"}'),
    {
      ok: true,
      message: {
        type: "client",
        event: "client-typing",
        channel: "private-a",
        data: '{"amount":12.50}',
      },
    },
  );
  assert.deepEqual(
    parsePusherMessage('{"event":"pusher:subscribe","data":{"channel":"#server-to-user-42"}}'),
    { ok: true, message: { type: "subscribe", channel: "#server-to-user-42" } },
  );
});

Deno.test("refuses what is not a Pusher event, saying why", () => {
  const cases: Array<[string, string]> = [
    ["nope", "expected a JSON object"],
    ["[1]", "expected a JSON object"],
    ['{"data":{}}', "event: expected a string"],
    ['{"event":"pusher:teleport"}', 'event: "pusher:teleport" is not supported'],
    ['{"event":"pusher:subscribe"}', "pusher:subscribe: expected data with a channel"],
    [
      '{"event":"pusher:subscribe","data":{"channel":7}}',
      "pusher:subscribe: data.channel: expected a string",
    ],
    [
      '{"event":"pusher:subscribe","data":{"channel":"a","auth":1}}',
      "pusher:subscribe: data.auth: expected a string",
    ],
    [
      '{"event":"pusher:unsubscribe","data":{}}',
      "pusher:unsubscribe: data.channel: expected a string",
    ],
    [
      '{"event":"pusher:signin","data":{"auth":"x"}}',
      "pusher:signin: expected data with auth and user_data strings",
    ],
    ['{"event":"client-x","data":1}', "client-x: channel: expected a string"],
    ['{"event":"client-x","channel":"private-a"}', "client-x: expected data"],
    [
      `{"event":"client-${"x".repeat(200)}","channel":"a","data":1}`,
      "event: expected at most 200 characters",
    ],
  ];
  for (const [text, error] of cases) {
    assert.deepEqual(parsePusherMessage(text), { ok: false, error }, text);
  }
});

Deno.test("a subscription to a bad channel name is refused naming the channel", () => {
  const cases: Array<[string, string]> = [
    ["a b", "pusher:subscribe: channel: expected characters of A-Z a-z 0-9 _ - = @ , . ;"],
    ["a".repeat(165), "pusher:subscribe: channel: expected at most 164 characters"],
  ];
  for (const [channel, error] of cases) {
    const text = JSON.stringify({ event: "pusher:subscribe", data: { channel } });
    assert.deepEqual(parsePusherMessage(text), { ok: false, error, channel }, text);
  }
});

Deno.test("renders the server's events with data as Pusher's clients read it", () => {
  const established = JSON.parse(renderConnectionEstablished("12.34", 120));
  assert.equal(established.event, "pusher:connection_established");
  assert.equal(typeof established.data, "string");
  assert.deepEqual(JSON.parse(established.data), { "socket_id": "12.34", "activity_timeout": 120 });
  assert.deepEqual(JSON.parse(PUSHER_PONG), { event: "pusher:pong", data: "{}" });
  assert.deepEqual(JSON.parse(PUSHER_PING), { event: "pusher:ping", data: "{}" });
  assert.deepEqual(JSON.parse(renderPusherError(4001, "no app")), {
    event: "pusher:error",
    data: { code: 4001, message: "no app" },
  });
  assert.deepEqual(JSON.parse(renderSubscriptionSucceeded("news")), {
    event: "pusher_internal:subscription_succeeded",
    channel: "news",
    data: "{}",
  });
  const presence = JSON.parse(renderSubscriptionSucceeded("presence-room", {
    members: [{ userId: 7, userInfo: { name: "Ada" } }, { userId: "b" }],
  }));
  assert.deepEqual(JSON.parse(presence.data), {
    presence: { ids: [7, "b"], hash: { "7": { name: "Ada" }, b: null }, count: 2 },
  });
  assert.deepEqual(JSON.parse(renderSubscriptionError("private-a", "bad signature")), {
    event: "pusher:subscription_error",
    channel: "private-a",
    data: { type: "AuthError", error: "bad signature", status: 401 },
  });
  const added = JSON.parse(renderMemberAdded("presence-room", 7, { name: "Ada" }));
  assert.deepEqual(JSON.parse(added.data), { "user_id": 7, "user_info": { name: "Ada" } });
  const removed = JSON.parse(renderMemberRemoved("presence-room", "b"));
  assert.deepEqual([removed.event, JSON.parse(removed.data)], ["pusher_internal:member_removed", {
    "user_id": "b",
  }]);
  const signin = JSON.parse(renderSigninSuccess('{"id":"1"}'));
  assert.deepEqual(JSON.parse(signin.data), { "user_data": '{"id":"1"}' });
});

Deno.test("an event's data goes out exactly as it came in", () => {
  assert.equal(
    renderPusherEvent("client-x", "private-a", '{"amount":12.50}'),
    '{"event":"client-x","channel":"private-a","data":{"amount":12.50}}',
  );
  assert.equal(
    renderPusherEvent("placed", "orders", JSON.stringify("12.50")),
    '{"event":"placed","channel":"orders","data":"12.50"}',
  );
  assert.deepEqual(JSON.parse(renderPusherEvent("client-x", "presence-a", "1", "7")).user_id, "7");
});

Deno.test("socket ids are N.N", () => {
  assert.match(newSocketId(), /^\d+\.\d+$/);
  assert.notEqual(newSocketId(), newSocketId());
});
