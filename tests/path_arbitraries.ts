/**
 * @module
 * Raw URL path segments for property tests of the API's routing: route words, dot segments in
 * every spelling, malformed and awkward percent-encodings, characters the URL parser encodes or
 * treats as separators, and very long segments.
 */

import fc from "fast-check";

/** One raw path segment, as a client might put it in a request line. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "broadcast",
    "token",
    "debug",
    "token-dump",
    "recipient-dump",
    "health",
    "stats",
    "metrics",
    "news",
    "",
  ),
  fc.constantFrom(".", "..", "%2e", "%2E%2e", ".%2E", ".hidden", "a.b", "..."),
  fc.webSegment(),
  fc.string({ unit: "binary", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 8 }).map(encodeURIComponent),
  // Malformed and awkward percent-encodings: truncated, not hex, overlong, a UTF-8 surrogate.
  fc.constantFrom("%", "%2", "%zz", "%E0%A4", "%C0%AF", "%ED%A0%80", "%FF", "%00", "%25", "%2F"),
  fc.constantFrom("%7F", "%C2%9F", "%0A", "a%", "%%", "%E2%82%AC", "%F0%9F%98%80", "a%20b"),
  fc.constantFrom("\\", "a\\b", "|", "^", "`", "{}", "[x]", '"', "<>", "\t", "'", "@:;=,+$!*"),
  fc.constantFrom("a b", "ü", "€"),
  fc.integer({ min: 200, max: 20_000 }).map((n) => "a".repeat(n)),
  fc.integer({ min: 80, max: 2_000 }).map((n) => "%E2%82%AC".repeat(n)),
);
