/**
 * @module
 * A differential test of `PathnameReader`, the router's shortcut past the URL parser, against
 * `new URL(url).pathname`: for request URLs with awkward authorities (tabs, newlines, userinfo,
 * percent, bad ports and addresses) and awkward paths, it must answer exactly what the parser
 * answers, and throw where the parser throws, however its memory of origins was filled.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { PathnameReader } from "../src/api/pathname.ts";
import { pathSegment as segment } from "./path_arbitraries.ts";

const NUM_RUNS = 3_000;

/** Authorities as a `Host` header may give them, a few of them valid: few enough that the same
 * ones come back, so a shortcut taken on a remembered origin is tested on other paths. */
const authority = fc.oneof(
  fc.constantFrom(
    "127.0.0.1:8001",
    "localhost:8001",
    "api.test",
    "[::1]:8001",
    "LOCALHOST",
    "127.1",
  ),
  fc.constantFrom("", "\t", "\n", " ", "a\tb", "host\t", "\thost", "host:", ":8001", "host:99999"),
  fc.constantFrom("host:8x", "a:b:c", "[::1", "[zz]", "1.2.3.999", "user@host", "u:p@host"),
  fc.constantFrom("a%2fb", "a%41", "h%", "a\\b", "a b", "ü.example", "xn--a", "a..b", "."),
  fc.constantFrom("host/", "host?", "host#", "ho\rst", "host\u0000", "HOST.example."),
  fc.string({
    unit: fc.constantFrom("a", "1", ".", ":", "[", "]", "\t", "/", "%", "@"),
    maxLength: 6,
  }),
);

/** A raw request target: segments, sometimes a trailing slash, a query or a fragment. */
const rawPath = fc.tuple(
  fc.array(segment, { maxLength: 5 }),
  fc.boolean(),
  fc.constantFrom("", "?", "?q=1/..", "#f", "?a#b", "#/../x", "?\t", " ", "\t", "\n", "?x "),
).map(([segments, isTrailing, tail]) => `/${segments.join("/")}${isTrailing ? "/" : ""}${tail}`);

const requestUrl = fc.tuple(
  fc.constantFrom("http://", "https://", "HTTP://", "http:/", "http:\\\\", "ws://", " http://"),
  authority,
  fc.oneof(rawPath, fc.constantFrom("", "*", "\t/x", "/\t/x", "//x", "/a\t./b", "\\x")),
).map(([scheme, host, path]) => `${scheme}${host}${path}`);

function parsedPathname(url: string): string | TypeError {
  try {
    return new URL(url).pathname;
  } catch (error) {
    return error as TypeError;
  }
}

function readPathname(reader: PathnameReader, url: string): string | TypeError {
  try {
    return reader.pathname(url);
  } catch (error) {
    return error as TypeError;
  }
}

Deno.test("PathnameReader reads pathnames as new URL() does, and throws where it throws", () => {
  const reader = new PathnameReader();
  let shortcuts = 0;
  fc.assert(
    fc.property(requestUrl, (url) => {
      const expected = parsedPathname(url);
      // Asked twice: the first may teach it the origin, the second may then take the shortcut.
      for (let i = 0; i < 2; i++) {
        const read = readPathname(reader, url);
        if (expected instanceof TypeError) {
          assert.ok(read instanceof TypeError, `${JSON.stringify(url)}: read ${String(read)}`);
        } else assert.equal(read, expected, JSON.stringify(url));
      }
    }),
    { numRuns: NUM_RUNS },
  );
  // The shortcut is taken at all: a plain URL on a known origin.
  const url = "http://127.0.0.1:8001/broadcast/room:1/?x";
  reader.pathname(url);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) if (reader.pathname(url) === "/broadcast/room:1/") shortcuts++;
  assert.equal(shortcuts, 1000, `took ${performance.now() - started} ms`);
});

Deno.test("PathnameReader takes no shortcut on an origin it only saw in a URL the parser refused", () => {
  const reader = new PathnameReader();
  assert.throws(() => reader.pathname("http://1.2.3.999/a"), TypeError);
  assert.throws(() => reader.pathname("http://1.2.3.999/a"), TypeError);
  assert.throws(() => reader.pathname("http://host:99999/broadcast/x"), TypeError);
  assert.equal(reader.pathname("http://\t/a/b"), new URL("http://\t/a/b").pathname);
  assert.equal(reader.pathname("http://\t/broadcast/x"), "/x");
});

Deno.test("PathnameReader forgets origins past its bound and still answers right", () => {
  const reader = new PathnameReader();
  for (let port = 1; port <= 200; port++) {
    const url = `http://127.0.0.1:${port}/broadcast/a%2Fb/`;
    assert.equal(reader.pathname(url), "/broadcast/a%2Fb/");
    assert.equal(reader.pathname(url), "/broadcast/a%2Fb/");
  }
});
