/** Unit tests of token grants: the POST /token/ body, channel patterns, and their encoding. */

import assert from "node:assert/strict";
import {
  decodeGrant,
  encodeGrant,
  grantsChannel,
  isExpired,
  OPEN_GRANT,
  parseGrantRequest,
} from "../src/grants.ts";

Deno.test("grantsChannel() matches exact names and prefixes ending in *", () => {
  const patterns = ["room:42", "news", "user:7:*"];
  assert.equal(grantsChannel(patterns, "room:42"), true);
  assert.equal(grantsChannel(patterns, "room:421"), false);
  assert.equal(grantsChannel(patterns, "user:7:inbox"), true);
  assert.equal(grantsChannel(patterns, "user:7:"), true);
  assert.equal(grantsChannel(patterns, "user:70"), false);
  assert.equal(grantsChannel(["*"], "anything"), true);
  assert.equal(grantsChannel([], "news"), false);
  assert.equal(grantsChannel(null, "news"), true);
});

Deno.test("parseGrantRequest() takes channels, publish, ttl and user, each optional", () => {
  assert.deepEqual(parseGrantRequest({}), {
    ok: true,
    channels: null,
    ttl: null,
    user: null,
    publish: [],
  });
  assert.deepEqual(
    parseGrantRequest({ channels: ["a", "b*"], ttl: 60, user: "7", publish: ["room:*"] }),
    { ok: true, channels: ["a", "b*"], ttl: 60, user: "7", publish: ["room:*"] },
  );
  assert.deepEqual(parseGrantRequest({ channels: [] }).ok, true);
});

Deno.test("parseGrantRequest() names the field that is wrong", () => {
  const cases: Array<[unknown, string]> = [
    [[], "body: expected a JSON object"],
    [{ chanels: [] }, "chanels: unknown field (expected channels, publish, ttl or user)"],
    [{ publish: "room:1" }, "publish: expected a list of patterns"],
    [{ publish: ["ok", ""] }, 'publish[1]: expected a non-empty channel name (in pattern "")'],
    [{ channels: "a" }, "channels: expected a list of patterns"],
    [{ channels: ["ok", 5] }, "channels[1]: expected a string"],
    [{ channels: [""] }, 'channels[0]: expected a non-empty channel name (in pattern "")'],
    [
      { channels: ["a\u0001*"] },
      'channels[0]: expected a channel name without control characters (in pattern "a\\u0001*")',
    ],
    [{ ttl: 0 }, "ttl: expected a whole number of seconds above 0"],
    [{ ttl: 1.5 }, "ttl: expected a whole number of seconds above 0"],
    [{ ttl: "60" }, "ttl: expected a whole number of seconds above 0"],
    [{ user: 7 }, "user: expected a string of at most 128 characters, without lone surrogates"],
    [
      { user: "x".repeat(129) },
      "user: expected a string of at most 128 characters, without lone surrogates",
    ],
    [
      { user: "a\ud800" },
      "user: expected a string of at most 128 characters, without lone surrogates",
    ],
  ];
  for (const [body, error] of cases) {
    assert.deepEqual(parseGrantRequest(body), { ok: false, error });
  }
});

Deno.test("encodeGrant() and decodeGrant() round-trip, and decodeGrant() refuses other text", () => {
  const grant = { channels: ["a*"], expiresAt: 1_800_000_000, user: "7", publish: ["a:*"] };
  assert.deepEqual(decodeGrant(encodeGrant(grant)), grant);
  // Grants kept before publishing existed publish nowhere.
  assert.deepEqual(decodeGrant('{"channels": null, "expires_at": null, "user": "7"}'), {
    ...OPEN_GRANT,
    user: "7",
  });
  assert.deepEqual(decodeGrant(encodeGrant(OPEN_GRANT)), OPEN_GRANT);
  for (const text of ["nope", "[]", '{"channels": 5, "expires_at": null, "user": null}']) {
    assert.equal(decodeGrant(text), null, text);
  }
});

Deno.test("isExpired() is true from the expiry second on", () => {
  const grant = { ...OPEN_GRANT, expiresAt: 100 };
  assert.equal(isExpired(grant, 99.9), false);
  assert.equal(isExpired(grant, 100), true);
  assert.equal(isExpired(OPEN_GRANT, 1e12), false);
});
