/**
 * @module
 * A differential test of the body reader's UTF-8 decoding, which takes a lenient decoder's
 * faster call first, against the fatal `TextDecoder` it stands for: the same text for the same
 * bytes, and a 400 exactly where the fatal decoder throws.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { utf8Text } from "../src/api/body.ts";
import { HttpError } from "../src/api/response.ts";

const FATAL = new TextDecoder("utf-8", { fatal: true });
const ENCODER = new TextEncoder();

/** Byte strings: valid UTF-8 text (with U+FFFD and BOMs in it), broken sequences, and any. */
const bytes = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 20 }).map((text) => ENCODER.encode(text)),
  fc.array(
    fc.oneof(
      fc.string({ unit: "binary", maxLength: 6 }).map((text) => [...ENCODER.encode(text)]),
      fc.constantFrom(
        [0xef, 0xbb, 0xbf],
        [0xef, 0xbf, 0xbd],
        [0xef, 0xbf],
        [0xc0, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf4, 0x90, 0x80, 0x80],
        [0xff],
        [0x80],
        [0xe2, 0x82],
        [0x7b, 0x7d],
      ),
      fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }),
    ),
    { maxLength: 8 },
  ).map((parts) => new Uint8Array(parts.flat())),
);

function fatalText(input: Uint8Array): string | "refused" {
  try {
    return FATAL.decode(input);
  } catch {
    return "refused";
  }
}

function decodedText(input: Uint8Array): string | "refused" {
  try {
    return utf8Text(input);
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 400);
    assert.equal(error.message, "body: expected UTF-8 text");
    return "refused";
  }
}

Deno.test("utf8Text() decodes as a fatal TextDecoder does, and refuses what it refuses", () => {
  let refused = 0;
  let withReplacement = 0;
  fc.assert(
    fc.property(bytes, (input) => {
      const expected = fatalText(input);
      if (expected === "refused") refused++;
      else if (expected.includes("\uFFFD")) withReplacement++;
      assert.equal(decodedText(input), expected, `${[...input]}`);
    }),
    { numRuns: 3_000 },
  );
  // Both sides of the shortcut are exercised.
  assert.ok(refused > 100 && withReplacement > 10, `${refused} refused, ${withReplacement}`);
});
