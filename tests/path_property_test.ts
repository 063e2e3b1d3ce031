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
  "/v1.2/~x_y/:id",
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
  "C:",
  "c|",
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
      fc.constantFrom("http", "https", "HTTP", "file", "FILE", "foo"),
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

/** A path made from one of the templates: parameters filled with raw segments, and sometimes
 * a literal segment's case or a dot in it changed, a segment added or one dropped; with or
 * without a trailing slash and a query. Most match their own template, some another. */
const templatedPath = fc.record({
  template: fc.constantFrom(...TEMPLATES),
  values: fc.array(segment, { minLength: 2, maxLength: 2 }),
  change: fc.constantFrom("none", "none", "none", "upper case", "add", "drop", "dot"),
  isTrailing: fc.boolean(),
  tail: fc.constantFrom("", "?q=1", "#f"),
}).map(({ template, values, change, isTrailing, tail }) => {
  let parameter = 0;
  const segments = template.slice(1).split("/").map((part) =>
    part.startsWith(":")
      ? values[parameter++ % values.length]!
      : change === "dot"
      ? part.replace(".", "x")
      : part
  );
  if (change === "upper case") segments[0] = segments[0]!.toUpperCase();
  if (change === "add") segments.push("extra");
  if (change === "drop") segments.pop();
  return `/${segments.join("/")}${isTrailing ? "/" : ""}${tail}`;
});

Deno.test("compilePath() matches as URLPattern with an optional trailing slash", () => {
  const pairs = TEMPLATES.map((template) => ({
    template,
    matcher: compilePath(template),
    reference: new URLPattern({ pathname: `${template}{/}?` }),
  }));
  const matches = new Map(TEMPLATES.map((template) => [template, 0]));
  fc.assert(
    fc.property(fc.oneof(templatedPath, rawPath), (path) => {
      const pathname = parsedPathname(`http://api.test${path}`);
      if (pathname instanceof Error) return;
      for (const { template, matcher, reference } of pairs) {
        const found = reference.exec({ pathname: pathname as string });
        const expected: Record<string, string | undefined> | null = found?.pathname.groups ?? null;
        assert.deepEqual(matcher.match(pathname), expected, `${template} on ${pathname}`);
        if (expected !== null) matches.set(template, matches.get(template)! + 1);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  // Not only "no match" twice: every template matched in some runs (25 to 75 each, usually).
  for (const [template, count] of matches) assert.ok(count > 0, `${template} never matched`);
});

Deno.test("compilePath() refuses templates outside the syntax it implements", () => {
  const refused = ["token", "", "/", "/a/", "/a//b", "/a:b", "/:a.json", "/:a-b", "/files/*"];
  refused.push("/ü", "/a?", "/a+", "/(a)", "/{a}", "/:a/:a", "/./x", "/a/..", "/a%20b");
  for (const template of refused) {
    assert.throws(() => compilePath(template), /^Error: route /, template);
  }
});
