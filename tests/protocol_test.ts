import assert from "node:assert/strict";
import {
  MAX_REF_LENGTH,
  parseClientMessage,
  renderBroadcastFrame,
  renderReply,
} from "../src/protocol.ts";

Deno.test("parseClientMessage() parses an access_token message", () => {
  assert.deepEqual(parseClientMessage('{"access_token": "abc-1"}'), {
    ok: true,
    message: { type: "auth", token: "abc-1" },
  });
});

Deno.test("parseClientMessage() rejects an empty or non-string access_token", () => {
  for (const token of ['""', "1", "null", '["a"]', "{}"]) {
    assert.deepEqual(parseClientMessage(`{"access_token": ${token}}`), {
      ok: false,
      error: "access_token: expected a non-empty string",
    }, token);
  }
});

Deno.test("parseClientMessage() parses a channels message", () => {
  const text = '{"channels": {"join": ["news", "sport"], "leave": ["weather"]}}';
  assert.deepEqual(parseClientMessage(text), {
    ok: true,
    message: { type: "channels", join: ["news", "sport"], leave: ["weather"] },
  });
});

Deno.test("parseClientMessage() accepts empty join and leave lists", () => {
  assert.deepEqual(parseClientMessage('{"channels": {"join": [], "leave": []}}'), {
    ok: true,
    message: { type: "channels", join: [], leave: [] },
  });
});

Deno.test("parseClientMessage() rejects a non-object channels", () => {
  for (const channels of ["[]", "null", '"news"', "1"]) {
    assert.deepEqual(parseClientMessage(`{"channels": ${channels}}`), {
      ok: false,
      error: "channels: expected an object with join and leave lists",
    }, channels);
  }
});

Deno.test("parseClientMessage() rejects a non-list join", () => {
  assert.deepEqual(parseClientMessage('{"channels": {"join": "news", "leave": []}}'), {
    ok: false,
    error: "channels.join: expected a list of channel names",
  });
});

Deno.test("parseClientMessage() rejects a missing leave", () => {
  assert.deepEqual(parseClientMessage('{"channels": {"join": ["news"]}}'), {
    ok: false,
    error: "channels.leave: expected a list of channel names",
  });
});

Deno.test("parseClientMessage() names the index of a non-string channel", () => {
  assert.deepEqual(parseClientMessage('{"channels": {"join": ["a", 2], "leave": []}}'), {
    ok: false,
    error: "channels.join[1]: expected a string",
  });
});

Deno.test("parseClientMessage() names the index and problem of an invalid channel name", () => {
  assert.deepEqual(parseClientMessage('{"channels": {"join": [], "leave": ["a", "b", ""]}}'), {
    ok: false,
    error: "channels.leave[2]: expected a non-empty channel name",
  });
  assert.deepEqual(
    parseClientMessage('{"channels": {"join": ["a\\u0007"], "leave": []}}'),
    { ok: false, error: "channels.join[0]: expected a channel name without control characters" },
  );
});

Deno.test("parseClientMessage() rejects text that is not a JSON object", () => {
  for (const text of ["", "not json", "{", "[]", "null", "42", '"access_token"', "true"]) {
    assert.deepEqual(
      parseClientMessage(text),
      { ok: false, error: "expected a JSON object" },
      JSON.stringify(text),
    );
  }
});

Deno.test("parseClientMessage() rejects a message with both access_token and channels", () => {
  const text = '{"access_token": "t", "channels": {"join": [], "leave": []}}';
  assert.deepEqual(parseClientMessage(text), {
    ok: false,
    error: "expected one of access_token, channels or publish, not access_token and channels",
  });
});

Deno.test("parseClientMessage() rejects a message with neither access_token nor channels", () => {
  assert.deepEqual(parseClientMessage('{"hello": 1}'), {
    ok: false,
    error: "expected an access_token, channels or publish message",
  });
  assert.deepEqual(parseClientMessage("{}"), {
    ok: false,
    error: "expected an access_token, channels or publish message",
  });
});

Deno.test("parseClientMessage() ignores unknown keys", () => {
  assert.deepEqual(parseClientMessage('{"access_token": "t", "client": {"v": 2}}'), {
    ok: true,
    message: { type: "auth", token: "t" },
  });
});

Deno.test("parseClientMessage() attaches a string or number ref to the message", () => {
  assert.deepEqual(parseClientMessage('{"access_token": "t", "ref": "r1"}'), {
    ok: true,
    message: { type: "auth", token: "t", ref: "r1" },
  });
  assert.deepEqual(parseClientMessage('{"channels": {"join": [], "leave": []}, "ref": 7}'), {
    ok: true,
    message: { type: "channels", join: [], leave: [], ref: 7 },
  });
});

Deno.test("parseClientMessage() keeps the ref of an invalid message", () => {
  assert.deepEqual(parseClientMessage('{"access_token": "", "ref": "r2"}'), {
    ok: false,
    error: "access_token: expected a non-empty string",
    ref: "r2",
  });
  assert.deepEqual(parseClientMessage('{"ref": 0}'), {
    ok: false,
    error: "expected an access_token, channels or publish message",
    ref: 0,
  });
});

Deno.test("parseClientMessage() accepts a ref of exactly MAX_REF_LENGTH characters", () => {
  const ref = "r".repeat(MAX_REF_LENGTH);
  const result = parseClientMessage(JSON.stringify({ access_token: "t", ref }));
  assert.deepEqual(result, { ok: true, message: { type: "auth", token: "t", ref } });
});

Deno.test("parseClientMessage() rejects an unusable ref without echoing it", () => {
  const error = `ref: expected a string of at most ${MAX_REF_LENGTH} characters or a finite number`;
  const refs = [
    JSON.stringify("r".repeat(MAX_REF_LENGTH + 1)),
    "1e999", // parses to Infinity
    "null",
    "true",
    "{}",
    "[1]",
  ];
  for (const ref of refs) {
    const result = parseClientMessage(`{"access_token": "t", "ref": ${ref}}`);
    assert.deepEqual(result, { ok: false, error }, ref.slice(0, 20));
  }
});

Deno.test("renderBroadcastFrame() renders the message and channel with spaced separators", () => {
  assert.equal(
    renderBroadcastFrame("news", { n: 1 }),
    '{"message": {"n":1}, "channel": "news"}',
  );
  assert.equal(renderBroadcastFrame("c", "hi"), '{"message": "hi", "channel": "c"}');
  assert.equal(renderBroadcastFrame("c", null), '{"message": null, "channel": "c"}');
});

Deno.test("renderBroadcastFrame() escapes the channel and payload as JSON", () => {
  const channel = 'a "quoted" \\ chännel';
  const payload = { text: 'say "hi"\n', list: [1, "two", { three: 3 }] };
  const frame = renderBroadcastFrame(channel, payload);
  assert.deepEqual(JSON.parse(frame), { message: payload, channel });
});

Deno.test("renderReply() renders success when error is omitted", () => {
  assert.equal(renderReply("r1"), '{"ref": "r1", "ok": true}');
  assert.equal(renderReply(42), '{"ref": 42, "ok": true}');
});

Deno.test("renderReply() renders the error when given", () => {
  assert.equal(
    renderReply("r1", "access_token: unknown token"),
    '{"ref": "r1", "error": "access_token: unknown token"}',
  );
  const reply = renderReply('q"x', 'bad "value"');
  assert.deepEqual(JSON.parse(reply), { ref: 'q"x', error: 'bad "value"' });
});
