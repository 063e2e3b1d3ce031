/**
 * @module
 * A differential test of the `Host` check's memory of its answers: one `HostCheck` asked again
 * and again, across more values than it remembers, answers each request exactly as a fresh one
 * (which has nothing remembered) does.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { HostCheck } from "../src/host_check.ts";

const NUM_RUNS = 300;

/** `Host` values, loopback, allowed, refused and malformed, some of them over and over. */
const host = fc.oneof(
  fc.constantFrom("127.0.0.1:8001", "localhost", "[::1]:8001", "boreas.example:443", "127.1"),
  fc.constantFrom("evil.example", "localhost.evil.example", "[::1", ":8001", "a b", "ü.example"),
  fc.constantFrom("10.0.0.5", "10.0.0.6:80", "BOREAS.EXAMPLE.", "0x7f.1", "127.0.0.1.", ""),
  fc.string({ unit: fc.constantFrom("a", "1", "7", ".", ":", "[", "]", "x", "f"), maxLength: 12 }),
);

function refusalOf(check: HostCheck, value: string): string | undefined {
  return check.refusal(new Request("http://127.0.0.1:8001/token/", { headers: { host: value } }));
}

Deno.test("HostCheck remembering its answers answers as a fresh HostCheck does", () => {
  const allowedHosts = ["boreas.example", "10.0.0.5"];
  const remembering = new HostCheck(allowedHosts);
  fc.assert(
    fc.property(fc.array(host, { minLength: 1, maxLength: 200 }), (values) => {
      for (const value of values) {
        const expected = refusalOf(new HostCheck(allowedHosts), value);
        assert.equal(refusalOf(remembering, value), expected, JSON.stringify(value));
      }
    }),
    { numRuns: NUM_RUNS },
  );
});
