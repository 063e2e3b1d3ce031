/**
 * @module
 * Differential tests of the router's path handling against the web platform it replaces on the
 * hot path: `pathnameOf` against `new URL(url).pathname`, and `compilePath` against
 * `URLPattern` with an optional trailing slash.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { compilePath, pathnameOf } from "../src/api/path.ts";

const NUM_RUNS = 2_000;

/** Every route template the API declares, and a few more shapes. */
const TEMPLATES = [
  "/broadcast/:channel",
  "/token",
  "/token/:token",
  "/:channel/token",
  "/health",
  "/stats",
  "/metrics",
  "/debug/token-dump",
  "/debug/recipient-dump",
  "/a/:first/b/:second",
  "/",
];

/** Path segments, raw: the edges of percent-encoding, dot segments and characters the URL
 * parser encodes or treats as separators. */
const segment = fc.oneof(
  fc.constantFrom(
    "broadcast",
    "token",
    "debug",
    "token-dump",
    "health",
    "",
    ".",
    "..",
    "%2e",
    "%2E%2e",
    ".%2E",
    ".hidden",
    "a.b",
    "...",
  ),
  fc.constantFrom("%", "%zz", "%E2%82%AC", "%2F", "%00", "%7e", "a%20b", "a b", "ü", "€"),
  fc.constantFrom("\\", "a\\b", "|", "^", "`", "{}", "[x]", '"', "<>", "\t", "'", "@:;=,+$!*"),
  fc.string({ unit: "binary-ascii", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 4 }),
  fc.webSegment(),
);

const rawPath = fc.tuple(
  fc.array(segment, { maxLength: 6 }),
  fc.boolean(),
  fc.constantFrom("", "?", "?q=1/..", "#f", "?a#b", "#/../x"),
).map(([segments, isTrailing, tail]) => `/${segments.join("/")}${isTrailing ? "/" : ""}${tail}`);

const authority = fc.constantFrom(
  "api.test",
  "127.0.0.1:8001",
  "[::1]:8001",
  "API.Test",
  "user@host",
  "h?x",
  "h#x",
  "h\\x",
  "",
  "x:99999",
  "h:80:80",
  "[zz]",
  "[::1",
  "a..b",
  "-",
);

function parsedPathname(url: string): string | Error {
  try {
    return new URL(url).pathname;
  } catch (error) {
    return error as Error;
  }
}

Deno.test("pathnameOf() equals new URL().pathname for any request URL", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("http", "https", "HTTP"),
      authority,
      rawPath,
      (scheme, host, path) => {
        const url = `${scheme}://${host}${path}`;
        const expected = parsedPathname(url);
        if (expected instanceof Error) {
          assert.throws(() => pathnameOf(url), TypeError, url);
        } else {
          assert.equal(pathnameOf(url), expected, url);
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("pathnameOf() slices plain paths and parses the rest", () => {
  assert.equal(pathnameOf("http://x/broadcast/news/?a=1"), "/broadcast/news/");
  assert.equal(pathnameOf("http://x/%2E/token/"), "/token/");
  assert.equal(pathnameOf("http://x/a/../token/"), "/token/");
  assert.equal(pathnameOf("http://x/%C3%BC/token/#f"), "/%C3%BC/token/");
  assert.equal(pathnameOf("http://x/ü/token/"), "/%C3%BC/token/");
  assert.equal(pathnameOf("http://x"), "/");
});

Deno.test("compilePath() matches as URLPattern with an optional trailing slash", () => {
  const pairs = TEMPLATES.map((template) => ({
    template,
    matcher: compilePath(template),
    reference: new URLPattern({ pathname: `${template === "/" ? "" : template}{/}?` }),
  }));
  fc.assert(
    fc.property(authority, rawPath, (host, path) => {
      const pathname = parsedPathname(`http://${host}${path}`);
      if (pathname instanceof Error) return;
      for (const { template, matcher, reference } of pairs) {
        const found = reference.exec({ pathname: pathname as string });
        const expected: Record<string, string | undefined> | null = found?.pathname.groups ?? null;
        assert.deepEqual(matcher.match(pathname), expected, `${template} on ${pathname}`);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});

Deno.test("compilePath() refuses a template without a leading slash", () => {
  assert.throws(() => compilePath("token"), /must start with "\/"/);
});
