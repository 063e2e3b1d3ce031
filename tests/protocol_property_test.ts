/**
 * @module
 * Property-based tests of the pure protocol functions: `parseClientMessage` against a reference
 * written from the protocol's rules, `renderBroadcastFrame` against `JSON.parse`, and
 * `channelNameProblem` against a reference of what a valid channel name is.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ADAPTER_CHANNEL_MARK,
  channelNameProblem,
  isAdapterChannel,
  MAX_CHANNEL_NAME_BYTES,
} from "../src/channel.ts";
import {
  type ClientMessage,
  MAX_REF_LENGTH,
  parseClientMessage,
  type ParseResult,
  type Ref,
  renderBroadcastFrame,
  renderFrame,
} from "../src/protocol.ts";

const UTF8 = new TextEncoder();
// C0 controls, DEL and C1 controls, as the protocol forbids them in channel names.
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
const NUM_RUNS = 500;

// ---- references -------------------------------------------------------------------------

/** A channel name is valid when it is non-empty, not `.` or `..`, well-formed UTF-16, at most
 * 255 UTF-8 bytes, and has no code point in U+0000–U+001F, U+007F–U+009F. */
function isValidChannelName(name: string): boolean {
  if (name === "" || name === "." || name === ".." || !name.isWellFormed()) return false;
  if (UTF8.encode(name).length > MAX_CHANNEL_NAME_BYTES) return false;
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return false;
  }
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isValidRef(value: unknown): value is Ref {
  return (typeof value === "string" && value.length <= MAX_REF_LENGTH) ||
    (typeof value === "number" && Number.isFinite(value));
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) &&
    value.every((name) => typeof name === "string" && isValidChannelName(name));
}

/** What parsing `text` must give: the message, or a failure with the `ref` to answer. */
type Expected = { ok: true; message: ClientMessage } | { ok: false; ref?: Ref };

function expectedParse(text: string): Expected {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  if (!isObject(value)) return { ok: false };
  const { ref } = value;
  if (ref !== undefined && !isValidRef(ref)) return { ok: false };
  const withRef = ref === undefined ? {} : { ref };
  const hasToken = Object.hasOwn(value, "access_token");
  if (hasToken === Object.hasOwn(value, "channels")) return { ok: false, ...withRef };
  if (hasToken) {
    const token = value.access_token;
    return typeof token === "string" && token !== ""
      ? { ok: true, message: { type: "auth", token, ...withRef } }
      : { ok: false, ...withRef };
  }
  const { channels } = value;
  if (!isObject(channels) || !isNameList(channels.join) || !isNameList(channels.leave)) {
    return { ok: false, ...withRef };
  }
  return {
    ok: true,
    message: { type: "channels", join: channels.join, leave: channels.leave, ...withRef },
  };
}

// ---- checks -------------------------------------------------------------------------------

function assertKeys(value: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(value)) assert.ok(allowed.includes(key), `${what} has key ${key}`);
}

/** Asserts the shape the protocol promises, whatever the input was. */
function assertWellTyped(result: ParseResult): void {
  if (!result.ok) {
    assert.equal(result.ok, false);
    assertKeys(result, ["ok", "error", "ref"], "a failure");
    assert.equal(typeof result.error, "string");
    assert.ok(result.error.length > 0, "a failure's error is non-empty");
    if ("ref" in result) assert.ok(isValidRef(result.ref), `a failure's ref ${result.ref}`);
    return;
  }
  assertKeys(result, ["ok", "message"], "a success");
  const { message } = result;
  if ("ref" in message) assert.ok(isValidRef(message.ref), `a message's ref ${message.ref}`);
  if (message.type === "auth") {
    assertKeys(message, ["type", "token", "ref"], "an auth message");
    assert.equal(typeof message.token, "string");
    assert.ok(message.token.length > 0, "an auth message's token is non-empty");
    return;
  }
  assert.equal(message.type, "channels");
  assertKeys(message, ["type", "join", "leave", "ref"], "a channels message");
  for (const list of [message.join, message.leave]) {
    assert.ok(Array.isArray(list));
    for (const name of list) {
      assert.equal(typeof name, "string");
      assert.equal(channelNameProblem(name), null, `channel name ${JSON.stringify(name)}`);
    }
  }
}

/** Parses `text` and checks the result's shape and its agreement with the reference. */
function checkParse(text: string): void {
  const result = parseClientMessage(text);
  assertWellTyped(result);
  const expected = expectedParse(text);
  assert.equal(result.ok, expected.ok, `ok for ${text.slice(0, 200)}`);
  if (result.ok && expected.ok) assert.deepEqual(result.message, expected.message);
  if (!result.ok && !expected.ok) {
    assert.equal("ref" in result, "ref" in expected, `whether a ref is echoed for ${text}`);
    assert.equal(result.ref, expected.ref);
  }
}

// ---- arbitraries --------------------------------------------------------------------------

/** Characters of 1, 2, 3 and 4 UTF-8 bytes, to build names around the byte limit. */
const WIDE_CHARS = ["a", "é", "€", "😀"] as const;

/** Valid channel names: any well-formed text without control characters, including names
 * cut at the byte limit. */
const validChannelName = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }),
  fc.array(fc.constantFrom(...WIDE_CHARS), { minLength: 1, maxLength: 260 }).map((chars) => {
    let name = "";
    for (const char of chars) {
      if (UTF8.encode(name + char).length > MAX_CHANNEL_NAME_BYTES) break;
      name += char;
    }
    return name;
  }),
).map((name) => name.replace(CONTROL_CHARACTERS, "_"))
  // "." and ".." are refused (URLs drop those path segments); one-character strings hit them.
  .filter((name) => name !== "." && name !== "..");

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) =>
  String.fromCharCode(code)
);
const controlCharacter = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }),
  fc.integer({ min: 0x7f, max: 0x9f }),
).map((code) => String.fromCharCode(code));

/** Any string, biased towards the edges of the channel-name rules. */
const anyChannelName = fc.oneof(
  validChannelName,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.oneof(fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), loneSurrogate),
    minLength: 1,
  }),
  fc.tuple(validChannelName, fc.nat(), fc.oneof(controlCharacter, loneSurrogate)).map(
    ([name, at, bad]) =>
      name.slice(0, at % (name.length + 1)) + bad + name.slice(at % (name.length + 1)),
  ),
  fc.tuple(fc.constantFrom(...WIDE_CHARS), fc.integer({ min: 50, max: 270 })).map(([char, n]) =>
    char.repeat(n)
  ),
  fc.constantFrom("", " ", "\u00a0"),
);

const anyJson = fc.jsonValue({ maxDepth: 3 });
const optionalRef = fc.option(
  fc.oneof(
    fc.string({ maxLength: MAX_REF_LENGTH }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
  ),
  { nil: undefined },
);

/** Messages the protocol accepts, with unknown keys clients may add. */
const validMessage = fc.oneof(
  fc.record({
    access_token: fc.string({ unit: "binary", minLength: 1, maxLength: 200 }),
    ref: optionalRef,
  }),
  fc.record({
    channels: fc.record({
      join: fc.array(validChannelName, { maxLength: 8 }),
      leave: fc.array(validChannelName, { maxLength: 8 }),
    }),
    ref: optionalRef,
    extra: fc.option(anyJson, { nil: undefined }),
  }),
);

/** Objects shaped like messages whose fields may have any type: one of `access_token` and
 * `channels`, both or neither, with or without a `ref` and keys of the client's own. */
const tokenField = fc.oneof(fc.string({ maxLength: 4 }), anyJson);
const nameListField = fc.oneof(
  { weight: 3, arbitrary: fc.array(validChannelName, { maxLength: 5 }) },
  { weight: 2, arbitrary: fc.array(anyChannelName, { maxLength: 5 }) },
  { weight: 1, arbitrary: anyJson },
);
const channelsField = fc.oneof(
  { weight: 4, arbitrary: fc.record({ join: nameListField, leave: nameListField }) },
  {
    weight: 1,
    arbitrary: fc.record({ join: nameListField, leave: nameListField }, { requiredKeys: [] }),
  },
  { weight: 1, arbitrary: anyJson },
);
const refField = fc.option(
  fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.string({ minLength: MAX_REF_LENGTH - 2, maxLength: MAX_REF_LENGTH + 2 }),
    fc.integer(),
    fc.double(),
    anyJson,
  ),
  { nil: undefined },
);
const otherField = fc.option(anyJson, { nil: undefined });
const messageLike = fc.oneof(
  fc.record({ access_token: tokenField, ref: refField, other: otherField }),
  fc.record({ channels: channelsField, ref: refField, other: otherField }),
  fc.record({
    access_token: tokenField,
    channels: channelsField,
    ref: refField,
    other: otherField,
  }, { requiredKeys: [] }),
);

/** Valid messages whose `ref` is a number written as JSON can write it but
 * `JSON.stringify` never does: out of range (`1e999` parses to Infinity), `-0`, exponents. */
const numericRefText = fc.tuple(
  validMessage,
  fc.oneof(
    fc.constantFrom("1e999", "-1e999", "1E400", "1e308", "-0", "0.0e0", "1e-400", "00"),
    fc.tuple(fc.integer({ min: -999, max: 999 }), fc.integer({ min: -400, max: 400 })).map(
      ([mantissa, exponent]) => `${mantissa}e${exponent}`,
    ),
  ),
).map(([message, ref]) =>
  JSON.stringify({ ...message, ref: "REF" }).replace('"ref":"REF"', `"ref": ${ref}`)
);

/** One edit of a text: insert, delete or replace at a position taken modulo its length. */
const edit = fc.record({
  kind: fc.constantFrom("insert", "delete", "replace"),
  at: fc.nat(),
  length: fc.integer({ min: 1, max: 8 }),
  text: fc.oneof(
    fc.string({ unit: fc.constantFrom(...'{}[]",:\\ 0123456789.-+eE truefalsnul') }),
    fc.string({ unit: "binary", maxLength: 3 }),
    loneSurrogate,
  ),
});

function applyEdits(
  text: string,
  edits: ReadonlyArray<{ kind: string; at: number; length: number; text: string }>,
): string {
  for (const { kind, at, length, text: piece } of edits) {
    const i = at % (text.length + 1);
    if (kind === "insert") text = text.slice(0, i) + piece + text.slice(i);
    else if (kind === "delete") text = text.slice(0, i) + text.slice(i + length);
    else text = text.slice(0, i) + piece + text.slice(i + piece.length);
  }
  return text;
}

/** A nested value `depth` levels deep, as text, optionally left unbalanced. */
const deepText = fc.record({
  depth: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(100_000)),
  kind: fc.constantFrom("array", "object"),
  isBalanced: fc.boolean(),
  place: fc.constantFrom("top", "access_token", "join", "join item", "ref", "channels", "other"),
}).map(({ depth, kind, isBalanced, place }) => {
  const open = kind === "array" ? "[" : '{"a":';
  const close = kind === "array" ? "]" : "}";
  const nested = open.repeat(depth) + (kind === "array" ? "" : "1") +
    (isBalanced ? close.repeat(depth) : "");
  switch (place) {
    case "top":
      return nested;
    case "join":
      return `{"channels": {"join": ${nested}, "leave": []}, "ref": "deep"}`;
    case "join item":
      return `{"channels": {"join": ["ok", ${nested}], "leave": []}, "ref": "deep"}`;
    case "channels":
      return `{"channels": ${nested}, "ref": 1}`;
    default:
      return `{"access_token": "t", "${place}": ${nested}}`;
  }
});

// ---- properties ---------------------------------------------------------------------------

Deno.test("parseClientMessage() never throws and agrees with the reference for any string", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string({ unit: "binary" }),
        fc.string({ unit: fc.oneof(fc.string({ unit: "binary", maxLength: 1 }), loneSurrogate) }),
        fc.json(),
        numericRefText,
        fc.constantFrom("", " ", "null", "[]", "{}", "{", "}", '""', "1e999", "-0", "\u0000"),
      ),
      checkParse,
    ),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("parseClientMessage() agrees with the reference for fields of any type", () => {
  fc.assert(
    fc.property(fc.oneof(messageLike, anyJson), (value) => checkParse(JSON.stringify(value))),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("parseClientMessage() agrees with the reference for edited valid messages", () => {
  fc.assert(
    fc.property(validMessage, fc.array(edit, { minLength: 1, maxLength: 3 }), (message, edits) => {
      checkParse(applyEdits(JSON.stringify(message), edits));
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("parseClientMessage() handles deeply nested and unbalanced JSON", () => {
  fc.assert(fc.property(deepText, checkParse), { numRuns: 100 });
});

Deno.test("parseClientMessage() round-trips every valid message", () => {
  fc.assert(
    fc.property(validMessage, (sent) => {
      // What the server can see of `ref` is what survives JSON (no -0).
      const ref = sent.ref === undefined ? {} : { ref: JSON.parse(JSON.stringify(sent.ref)) };
      const expected: ClientMessage = "access_token" in sent
        ? { type: "auth", token: sent.access_token, ...ref }
        : { type: "channels", join: sent.channels.join, leave: sent.channels.leave, ...ref };
      assert.deepEqual(parseClientMessage(JSON.stringify(sent)), { ok: true, message: expected });
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("renderBroadcastFrame() renders JSON equal to {message, channel}", () => {
  fc.assert(
    // A name opening with the adapter mark is an adapter's channel, whose payload is its frame.
    fc.property(anyJson, anyChannelName.filter((name) => !isAdapterChannel(name)), (
      payload,
      channel,
    ) => {
      const frame = JSON.parse(renderBroadcastFrame(channel, payload));
      assert.deepEqual(Object.keys(frame), ["message", "channel"]);
      assert.deepEqual(frame, { message: JSON.parse(JSON.stringify(payload)), channel });
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("renderFrame() sends an adapter channel's payload as the frame it already is", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (name, frame) => {
      assert.equal(renderFrame(ADAPTER_CHANNEL_MARK + name, frame, 3, "alice"), frame);
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("channelNameProblem() agrees with the reference definition", () => {
  fc.assert(
    fc.property(anyChannelName, (name) => {
      const problem = channelNameProblem(name);
      assert.equal(problem === null, isValidChannelName(name), JSON.stringify(name));
      if (problem !== null) assert.ok(problem.length > 0, "a problem is a non-empty message");
    }),
    {
      numRuns: 1000,
      examples: [
        ["a".repeat(255)],
        ["a".repeat(256)],
        ["€".repeat(85)],
        ["€".repeat(85) + "a"],
        ["😀".repeat(63) + "abc"],
        ["😀".repeat(64)],
        ["\u001f"],
        ["\u007f"],
        ["\u0080"],
        ["\u009f"],
        ["\u00a0"],
        [" "],
        ["\ud800"],
        ["a\udc00"],
        ["\ud83d"],
        [""],
      ],
    },
  );
});
