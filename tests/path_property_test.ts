/**
 * @module
 * A differential test of the router's compiled route templates against the web platform they
 * replace on the hot path: `compilePath` against `URLPattern` with an optional trailing slash.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { compilePath } from "../src/api/path.ts";
import { pathSegment as segment } from "./path_arbitraries.ts";

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

const rawPath = fc.tuple(
  fc.array(segment, { maxLength: 6 }),
  fc.boolean(),
  fc.constantFrom("", "?", "?q=1/..", "#f", "?a#b", "#/../x"),
).map(([segments, isTrailing, tail]) => `/${segments.join("/")}${isTrailing ? "/" : ""}${tail}`);

function parsedPathname(url: string): string | Error {
  try {
    return new URL(url).pathname;
  } catch (error) {
    return error as Error;
  }
}

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
