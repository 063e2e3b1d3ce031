import assert from "node:assert/strict";
import { mintToken, TOKEN_RANDOM_LENGTH } from "../src/tokens.ts";
import { MemoryTokens } from "../src/backend/memory_tokens.ts";

const TOKEN_FORMAT = /^[A-Za-z0-9]{128}-\d+$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

Deno.test("mintToken() returns 128 alphanumerics, a dash and Unix seconds", () => {
  assert.equal(TOKEN_RANDOM_LENGTH, 128);
  const token = mintToken();
  assert.match(token, TOKEN_FORMAT);
});

Deno.test("mintToken() suffixes the Unix seconds of now, rounded down", () => {
  assert.equal(mintToken(1_700_000_000_999).split("-")[1], "1700000000");
  assert.equal(mintToken(1_700_000_001_000).split("-")[1], "1700000001");
  assert.equal(mintToken(0).split("-")[1], "0");
  assert.match(mintToken(1_234_567), /^[A-Za-z0-9]{128}-1234$/);
});

Deno.test("mintToken() defaults now to the current time", () => {
  const before = Math.floor(Date.now() / 1000);
  const seconds = Number(mintToken().split("-")[1]);
  const after = Math.floor(Date.now() / 1000);
  assert.ok(seconds >= before && seconds <= after, `${seconds} not in [${before}, ${after}]`);
});

Deno.test("mintToken() returns distinct tokens", () => {
  const tokens = new Set<string>();
  for (let i = 0; i < 1000; i++) tokens.add(mintToken(0));
  assert.equal(tokens.size, 1000);
});

Deno.test("mintToken() draws every alphabet character with roughly equal frequency", () => {
  // 2000 tokens give 256,000 characters, about 4,129 of each. With modulo bias (`byte % 62`
  // without redraws) 'A'..'H' would each come up 5/256 of the time: about 5,000, +21%. The
  // ±10% band is over 6 standard deviations wide, so a fair generator does not fail it.
  const counts = new Map<string, number>();
  const tokenCount = 2000;
  for (let i = 0; i < tokenCount; i++) {
    const random = mintToken(0).slice(0, TOKEN_RANDOM_LENGTH);
    for (const char of random) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [...ALPHABET].sort());
  const expected = (tokenCount * TOKEN_RANDOM_LENGTH) / ALPHABET.length;
  for (const char of ALPHABET) {
    const ratio = counts.get(char)! / expected;
    assert.ok(ratio > 0.9 && ratio < 1.1, `${char}: ${counts.get(char)} vs ~${expected}`);
  }
});

Deno.test("MemoryTokens.mint() adds a well-formed token the store then has", async () => {
  const store = new MemoryTokens();
  const token = await store.mint();
  assert.match(token, TOKEN_FORMAT);
  assert.equal(store.has(token), true);
  assert.equal(store.size, 1);
  assert.deepEqual(store.list(), [token]);
  const second = await store.mint();
  assert.notEqual(second, token);
  assert.equal(store.size, 2);
});

Deno.test("MemoryTokens.has() matches exact tokens only", () => {
  const store = new MemoryTokens(["abc-1"]);
  assert.equal(store.has("abc-1"), true);
  assert.equal(store.has("abc-"), false);
  assert.equal(store.has("abc-10"), false);
  assert.equal(store.has("ABC-1"), false);
  assert.equal(store.has(""), false);
});

Deno.test("MemoryTokens.revoke() removes a token and says whether it was there", async () => {
  const store = new MemoryTokens(["a", "b"]);
  assert.equal(await store.revoke("a"), true);
  assert.equal(store.has("a"), false);
  assert.equal(await store.revoke("a"), false);
  assert.equal(await store.revoke("missing"), false);
  assert.equal(store.size, 1);
  assert.deepEqual(store.list(), ["b"]);
});

Deno.test("MemoryTokens starts with the initial tokens, deduplicated, in order", () => {
  const store = new MemoryTokens(["x", "y", "x", "z"]);
  assert.equal(store.size, 3);
  assert.deepEqual(store.list(), ["x", "y", "z"]);
  for (const token of ["x", "y", "z"]) assert.equal(store.has(token), true);
  assert.equal(new MemoryTokens().size, 0);
  assert.deepEqual(new MemoryTokens().list(), []);
});

Deno.test("MemoryTokens.list() lists tokens oldest first, minted after initial ones", async () => {
  const store = new MemoryTokens(new Set(["first"]));
  const minted = await store.mint();
  await store.revoke("first");
  const again = await store.mint();
  assert.deepEqual(store.list(), [minted, again]);
});

Deno.test("MemoryTokens.list() returns a copy", () => {
  const store = new MemoryTokens(["a"]);
  store.list().push("b");
  assert.equal(store.has("b"), false);
  assert.deepEqual(store.list(), ["a"]);
});
